"""The GRU encoder-decoder with additive attention: the pair row layout, masking, teacher
forcing, greedy and beam decoding, and overfitting 16 pairs through the real Trainer."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from engine.core.errors import EngineError
from engine.models import registry
from engine.models.seq2seq import EOS, SEP, Seq2Seq, pair_targets, source_batch, sources_of
from engine.training.config import TrainConfig
from engine.training.data import TextExamples, collate
from engine.training.losses import IGNORE, loss_sum, target_count
from engine.training.metrics import evaluate, token_bleu
from engine.training.trainer import Trainer

VOCAB = 24


def model(seed: int = 0, **params: object) -> Seq2Seq:
    torch.manual_seed(seed)
    cfg = registry.config_from_dict(
        "seq2seq", {"embed_dim": 16, "hidden_size": 32, "dropout": 0.0, **params}
    )
    built = registry.build_model("seq2seq", cfg, VOCAB, 0, 0)
    assert isinstance(built, Seq2Seq)
    return built.eval()


def unpadded() -> list[list[int]]:
    ids, mask = rows()
    return [r[:n] for r, n in zip(ids.tolist(), mask.sum(dim=1).tolist(), strict=True)]


def rows() -> tuple[torch.Tensor, torch.Tensor]:
    ids = torch.tensor(
        [[5, 6, 7, SEP, 8, 9, 10, EOS], [5, 6, SEP, 9, EOS, 0, 0, 0], [11, SEP, EOS, 0, 0, 0, 0, 0]]
    )
    return ids, (ids != 0).long()


def test_logits_are_laid_out_as_a_language_models_from_sep_on() -> None:
    ids, mask = rows()
    out = model()(ids, mask)
    assert out.shape == (3, 8, VOCAB)
    assert out[0, :3].abs().sum() == 0 and out[0, 3:7].abs().sum(dim=-1).min() > 0
    assert out[1, 5:].abs().sum() == 0  # padding predicts nothing
    targets = pair_targets(ids, mask, IGNORE)
    assert targets[0].tolist() == [IGNORE, IGNORE, IGNORE, 8, 9, 10, EOS]
    assert targets[1].tolist() == [IGNORE, IGNORE, 9, EOS, IGNORE, IGNORE, IGNORE]
    assert targets[2].tolist() == [IGNORE, EOS, *[IGNORE] * 5]
    batch = collate(TextExamples(unpadded(), pairs=True), torch.arange(3).numpy())
    assert target_count("seq2seq", batch) == 4 + 2 + 1


def test_a_padded_row_reads_as_it_does_alone() -> None:
    m = model()
    ids, mask = rows()
    together = m(ids, mask)
    for i, n in enumerate(mask.sum(dim=1).tolist()):
        alone = m(ids[i : i + 1, :n], mask[i : i + 1, :n])
        torch.testing.assert_close(alone[0], together[i, :n], atol=1e-5, rtol=1e-5)


def test_the_source_decides_and_the_target_is_read_left_to_right() -> None:
    m = model()
    ids, mask = rows()
    base = m(ids, mask)
    changed = ids.clone()
    changed[0, 0] = 12  # another source token changes every output step
    assert (m(changed, mask)[0, 3:7] - base[0, 3:7]).abs().amax(dim=-1).min() > 0
    later = ids.clone()
    later[0, 6] = 13  # a later target token cannot change the steps before it
    out = m(later, mask)
    torch.testing.assert_close(out[0, :6], base[0, :6])
    assert not torch.allclose(out[0, 6], base[0, 6])


def test_a_row_without_a_separator_is_refused() -> None:
    with pytest.raises(EngineError, match="no separator between source and target"):
        model()(torch.tensor([[5, 6, 7]]), torch.ones(1, 3, dtype=torch.long))


def test_teacher_forcing_zero_feeds_its_own_guesses_while_training() -> None:
    ids, mask = rows()
    forced = model(teacher_forcing=1.0).train()(ids, mask)
    free = model(teacher_forcing=0.0).train()(ids, mask)
    # the first step is fed SEP either way; later steps differ once a guess is wrong
    torch.testing.assert_close(forced[0, 3], free[0, 3])
    assert not torch.allclose(forced[0, 4:7], free[0, 4:7])
    # evaluation always feeds the truth
    torch.testing.assert_close(model(teacher_forcing=0.0)(ids, mask), model()(ids, mask))


def test_beam_search_of_width_one_is_greedy() -> None:
    m = model(seed=3)
    src, src_mask = source_batch([[5, 6, 7, 8], [9, 10], [11, 12, 13]])
    greedy = m.decode(src, src_mask, beam_width=1, max_output=12)
    for i, g in enumerate(greedy):
        beam = m._beam(src[i : i + 1], src_mask[i : i + 1], 1, 12)
        assert beam.tokens == g.tokens and beam.ended == g.ended
        assert beam.log_prob == pytest.approx(g.log_prob, abs=1e-4)
        assert len(g.attention) == len(g.tokens) + (1 if g.ended else 0)
        n = int(src_mask[i].sum())
        assert all(
            len(row) == n and sum(row) == pytest.approx(1.0, abs=1e-5) for row in g.attention
        )


def test_a_wider_beam_finds_outputs_at_least_as_likely() -> None:
    m = model(seed=5)
    with torch.no_grad():  # an untrained model rarely ends: make the end likelier
        m.out.bias[EOS] += 2.0
    src, src_mask = source_batch([[5, 6, 7, 8], [9, 10, 11], [12, 4]])
    greedy = m.decode(src, src_mask, beam_width=1, max_output=80)
    wide = m.decode(src, src_mask, beam_width=6, max_output=80)
    ended = [(g, w) for g, w in zip(greedy, wide, strict=True) if g.ended and w.ended]
    assert ended
    for g, w in ended:
        assert w.log_prob >= g.log_prob - 1e-5


def test_sixteen_pairs_are_learned_by_the_trainer(tmp_path: Path) -> None:
    """Reverse 16 short sequences: the real Trainer, teacher forcing, then greedy decoding."""
    gen = torch.Generator().manual_seed(0)
    pairs = []
    for _ in range(16):
        src = torch.randint(
            4, VOCAB, (int(torch.randint(2, 6, (1,), generator=gen)),), generator=gen
        )
        pairs.append([*src.tolist(), SEP, *src.flip(0).tolist(), EOS])
    data = TextExamples(pairs, pairs=True)
    m = model(seed=1, hidden_size=64, embed_dim=32).train()
    cfg = TrainConfig(lr=1e-2, epochs=150, batch_size=16, metric="exact_match", seed=0)
    Trainer(m, data, data, cfg, tmp_path, torch.device("cpu")).fit()
    result = evaluate(m, data, torch.device("cpu"))
    assert result.task == "seq2seq"
    assert result.exact_match == 1.0 and result.token_accuracy == 1.0
    assert result.bleu == pytest.approx(100.0)
    row = torch.tensor([pairs[0]])
    srcs, tgts = sources_of(row, torch.ones_like(row))
    assert srcs[0] == pairs[0][: pairs[0].index(SEP)]
    assert tgts[0] == pairs[0][pairs[0].index(SEP) + 1 : -1]


def test_bleu_counts_the_models_tokens() -> None:
    assert token_bleu([[1, 2, 3, 4, 5]], [[1, 2, 3, 4, 5]]) == pytest.approx(100.0)
    assert token_bleu([[9, 9, 9, 9, 9]], [[1, 2, 3, 4, 5]]) == 0.0
    assert 0 < token_bleu([[1, 2, 3, 4, 9]], [[1, 2, 3, 4, 5]]) < 100


def test_loss_counts_only_target_tokens() -> None:
    m = model()
    batch = collate(TextExamples(unpadded(), pairs=True), torch.arange(3).numpy())
    with torch.no_grad():
        logits = m(batch.input_ids, batch.attention_mask)
        total = loss_sum("seq2seq", logits, batch)
    by_hand = 0.0
    targets = pair_targets(batch.input_ids, batch.attention_mask, IGNORE)
    for b in range(3):
        for t in range(targets.shape[1]):
            if targets[b, t] != IGNORE:
                by_hand -= torch.log_softmax(logits[b, t], -1)[targets[b, t]].item()
    assert float(total) == pytest.approx(by_hand, rel=1e-5)


def test_weights_round_trip_and_settings_are_checked(tmp_path: Path) -> None:
    m = model()
    save_file(m.state_dict(), tmp_path / "m.safetensors")
    fresh = model(seed=9)
    ids, mask = rows()
    assert not torch.allclose(fresh(ids, mask), m(ids, mask))
    fresh.load_state_dict(load_file(tmp_path / "m.safetensors"))
    torch.testing.assert_close(fresh(ids, mask), m(ids, mask))
    for params, message in [
        ({"level": "byte"}, "level must be one of char, word"),
        ({"teacher_forcing": 1.5}, "teacher_forcing must be a number from 0 to 1"),
        ({"beam_width": 0}, "beam_width must be a positive integer"),
        ({"beam_width": 100}, "more than 64"),
    ]:
        with pytest.raises(EngineError, match=message):
            registry.config_from_dict("seq2seq", params)
    with pytest.raises(EngineError, match="pads with id 0"):
        registry.build_model("seq2seq", registry.config_from_dict("seq2seq", {}), VOCAB, 0, 3)
