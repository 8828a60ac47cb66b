"""Runs a command-line module and kill -9s it at a named point.

    python -m tests.kill_at POINT MODULE [FLAGS...]

runs `python -m MODULE FLAGS...` in this process, except that at POINT the
process sends itself SIGKILL: what `kill -9` does there, at the same place
every time, however fast or loaded the machine is. POINT is

- `checkpoint:N`: right after `tf.train.CheckpointManager.save` has
  written the checkpoint numbered N (its files and the state file);
- `saved_model`: right after the first `tf.saved_model.save` returns (an
  export's SavedModel written to its staging directory, not yet
  published).

If the run never reaches POINT it ends as it would have, and the test
sees an exit status other than -9.
"""

import os
import runpy
import signal
import sys


def _die():
    os.kill(os.getpid(), signal.SIGKILL)


def _kill_after_checkpoint(tf, step):
    save = tf.train.CheckpointManager.save

    def save_then_die(manager, checkpoint_number=None, *args, **kwargs):
        path = save(manager, checkpoint_number, *args, **kwargs)
        if checkpoint_number is not None and int(checkpoint_number) == step:
            _die()
        return path

    tf.train.CheckpointManager.save = save_then_die


def _kill_after_saved_model(tf):
    save = tf.saved_model.save

    def save_then_die(*args, **kwargs):
        save(*args, **kwargs)
        _die()

    tf.saved_model.save = save_then_die


def main(argv):
    point, module, flags = argv[1], argv[2], argv[3:]
    import tensorflow as tf

    if point.startswith("checkpoint:"):
        _kill_after_checkpoint(tf, int(point.split(":", 1)[1]))
    elif point == "saved_model":
        _kill_after_saved_model(tf)
    else:
        raise SystemExit(f"unknown kill point {point!r}")
    sys.argv = [module] + flags
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv)
