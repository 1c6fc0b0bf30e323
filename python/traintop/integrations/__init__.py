"""Framework callbacks: traintop in a Trainer that builds the optimizer and runs the loop itself.

    from traintop.integrations.lightning import TraintopCallback      # lightning.pytorch.Trainer
    from traintop.integrations.transformers import TraintopCallback   # transformers.Trainer

Each module imports its framework only when imported itself (this package imports neither). Both
share session.Session: watch the model with the Trainer's optimizer when training begins, publish one
step per optimizer step with the Trainer's logged metrics, turn the collector's stop request into the
framework's own stop, close the run with its status. See docs/python.md ("Framework callbacks").
"""
