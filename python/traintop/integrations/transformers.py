"""traintop in a Hugging Face transformers Trainer:

    from traintop.integrations.transformers import TraintopCallback
    trainer = transformers.Trainer(model=model, args=args, train_dataset=ds, callbacks=[TraintopCallback()])

When training begins it watches the model with the optimizer the Trainer built (accelerate's wrapper
is looked through). Each optimizer step is published under state.global_step with `epoch` and everything
the Trainer logs for that step (`loss`, `grad_norm`, `learning_rate` every logging_steps; `eval_*` after
an evaluation; the end-of-training summary); `lr` comes from the optimizer, read right after the
step, before the scheduler moves it. The collector's stop request sets control.should_training_stop;
the run ends "finished", or "stopped" when the collector asked. An exception inside train() leaves the
run open until the interpreter exits ("failed" there when uncaught): transformers has no exception
event. Needs transformers >= 4.40 and torch >= 2.
"""
try:
    from transformers import TrainerCallback
except ImportError as e:
    raise ImportError("traintop.integrations.transformers needs Hugging Face transformers: pip install transformers") from e

from .session import Session, scalars_of

__all__ = ["TraintopCallback"]


class TraintopCallback(TrainerCallback):
    """TraintopCallback(**watch_kwargs): run, endpoint, every, hparams, persample, ... as traintop.watch()
    takes them (auto_step must stay on). `tt` is the Watch while training runs."""

    def __init__(self, **watch_kwargs):
        self.session = Session(watch_kwargs)

    @property
    def tt(self):
        return self.session.tt

    def on_train_begin(self, args, state, control, model=None, optimizer=None, **kwargs):
        hp = {"trainer": "transformers", "per_device_train_batch_size": args.per_device_train_batch_size,
              "gradient_accumulation_steps": args.gradient_accumulation_steps, "max_steps": state.max_steps,
              "max_grad_norm": args.max_grad_norm}
        self.session.open(model, optimizer, hparams=hp)

    def on_step_begin(self, args, state, control, **kwargs):
        self.session.flush()

    def on_step_end(self, args, state, control, **kwargs):
        # the optimizer step was read by the Watch's post-step hook (before the Trainer zeroed the
        # gradients); the Trainer logs and evaluates after this event: held until the next step begins
        self.session.hold(state.global_step, {"epoch": float(state.epoch or 0.0)})
        if self.session.should_stop():
            control.should_training_stop = True

    def on_log(self, args, state, control, logs=None, **kwargs):
        self.session.add(scalars_of(logs))

    def on_train_end(self, args, state, control, **kwargs):
        self.session.close()
