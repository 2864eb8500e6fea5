"""The training loop: exact resume, divergence, the epoch sampler and best model, atomic checkpoints."""

import math

import pytest
import torch

from lconv_cli.errors import Diverged, UserError
from lconv_cli.train.trainer import BestModel, EpochSampler, Trainer


def _quadratic_trainer(tmp_path, max_steps, resume_dir=None, lr=0.1):
    torch.manual_seed(0)
    weight = torch.nn.Linear(3, 1)
    data_rng = torch.Generator().manual_seed(1)
    optimizer = torch.optim.Adam(weight.parameters(), lr=lr)
    trainer = Trainer(
        weight,
        optimizer,
        max_steps=max_steps,
        out_dir=tmp_path,
        batch_rng=data_rng,
        log_every=5,
        progress=False,
        resume_dir=resume_dir,
        monitor=lambda: {"w0": float(weight.weight[0, 0])},
    )

    def step_loss(rng):
        x = torch.randn(8, 3, generator=rng)
        return ((weight(x).squeeze(-1) - x.sum(-1)) ** 2).mean()

    return trainer, step_loss


def test_checkpoint_resume_is_exact(tmp_path):
    straight, loss = _quadratic_trainer(tmp_path / "a", 30)
    (tmp_path / "a").mkdir()
    full = straight.fit(loss)
    (tmp_path / "b").mkdir()
    first, loss_b = _quadratic_trainer(tmp_path / "b", 10)  # stops on a log point, as an interrupt would between them
    first.fit(loss_b)
    resumed, loss_c = _quadratic_trainer(tmp_path / "b", 30, resume_dir=tmp_path / "b")
    result = resumed.fit(loss_c)
    assert result.losses == full.losses
    assert [m[2] for m in result.monitored] == [m[2] for m in full.monitored]
    assert torch.equal(resumed.model.weight, straight.model.weight)
    state = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=False)
    assert state["complete"] and state["step"] == 30


def test_nan_loss_raises_diverged(tmp_path):
    trainer, _ = _quadratic_trainer(tmp_path, 10)
    with pytest.raises(Diverged, match="at step 1"):
        trainer.fit(lambda rng: torch.tensor(math.nan, requires_grad=True))


def test_resume_without_checkpoint_is_a_user_error(tmp_path):
    trainer, loss = _quadratic_trainer(tmp_path, 5, resume_dir=tmp_path / "missing")
    with pytest.raises(UserError, match="no checkpoint"):
        trainer.fit(loss)


def test_epoch_sampler_visits_every_example_once_per_epoch():
    sampler, rng = EpochSampler(10, 4), torch.Generator().manual_seed(0)
    epoch = [sampler.next_batch(rng) for _ in range(sampler.steps_per_epoch)]
    assert [len(b) for b in epoch] == [4, 4, 2] and sorted(torch.cat(epoch).tolist()) == list(range(10))
    assert sampler.next_batch(rng).tolist() != epoch[0].tolist() and sampler.epochs_started == 2


def test_trainer_resumes_the_sampler_and_the_best_model(tmp_path):
    def setup():
        torch.manual_seed(0)
        model = torch.nn.Linear(3, 2)
        sampler, best = EpochSampler(20, 6), BestModel(model)
        x, y = torch.randn(20, 3), torch.randint(0, 2, (20,))

        def step_loss(rng):
            idx = sampler.next_batch(rng)
            return torch.nn.functional.cross_entropy(model(x[idx]), y[idx])

        def monitor():
            best.update(-float(torch.nn.functional.cross_entropy(model(x), y)), trainer.result.steps)
            return {}

        trainer = Trainer(
            model,
            torch.optim.SGD(model.parameters(), lr=0.5),
            max_steps=10,
            out_dir=tmp_path,
            batch_rng=torch.Generator().manual_seed(1),
            log_every=3,
            progress=False,
            monitor=monitor,
            extra_state={"sampler": sampler, "best": best},
        )
        return trainer, step_loss, best

    straight, loss, best_straight = setup()
    straight_result = straight.fit(loss)
    first, loss, _ = setup()
    first.max_steps = 5
    first.fit(loss)
    resumed, loss, best_resumed = setup()
    resumed.resume_dir = tmp_path
    assert resumed.fit(loss).losses == straight_result.losses
    assert best_resumed.step == best_straight.step and best_resumed.score == best_straight.score


def test_a_crash_while_writing_a_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch):
    import torch

    from lconv_cli.train.trainer import Trainer

    model = torch.nn.Linear(3, 1)
    trainer = Trainer(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1),
        max_steps=4,
        out_dir=tmp_path,
        batch_rng=torch.Generator().manual_seed(0),
        checkpoint_every=2,
    )
    trainer.fit(lambda rng: model(torch.randn(8, 3, generator=rng)).pow(2).mean())
    saved = (tmp_path / "checkpoint.pt").read_bytes()
    real_save = torch.save

    def crash(obj, handle, *args, **kwargs):
        real_save(obj, handle, *args, **kwargs)
        handle.truncate(100)  # half-written
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError):
        trainer.save_checkpoint(complete=True)
    assert (tmp_path / "checkpoint.pt").read_bytes() == saved
    monkeypatch.setattr(torch, "save", real_save)
    again = Trainer(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1),
        max_steps=4,
        out_dir=tmp_path,
        batch_rng=torch.Generator(),
        resume_dir=tmp_path,
    )
    again.load_checkpoint(tmp_path / "checkpoint.pt")
    assert again.result.steps == 4
