"""What every command line of the project shares: a quiet TensorFlow start
(`console`), flag checks that name the flag (`flag_checks`)."""
