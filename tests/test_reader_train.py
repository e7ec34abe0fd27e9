"""The reader's training pipeline: windows labelled as the answer sits in them, and a run that
is stopped goes on from its checkpoint to the same weights as one that never stopped.

The training test uses a real (tiny, randomly initialised) BERT with m3e-small's real
tokenizer on real SQuAD paragraphs, so it runs in seconds."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from qa.eval.squad import load_squad
from qa.train.reader_data import answer_span, paragraphs_of
from qa.train.reader_windows import NULL, SPAN, YES, Layout, WindowMaker, labelled, windows

SAMPLE = Path(__file__).parent / "data" / "squad_sample.json"


@pytest.fixture(scope="module")
def tokenizer():
    pytest.importorskip("tokenizers")
    from qa.config import M3E_MODEL, resolve_model
    from qa.train.reader_net import m3e_tokenizer

    try:
        return m3e_tokenizer(Path(resolve_model(M3E_MODEL)))
    except FileNotFoundError as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def paragraphs():
    return paragraphs_of(load_squad(SAMPLE))


def test_windows_cover_the_context_and_label_the_answer(tokenizer, paragraphs) -> None:
    layout = Layout.bert(tokenizer)
    checked = 0
    for p in paragraphs:
        for q in p.questions:
            span = answer_span(p, q)
            if span is None or span[1] - span[0] > 40:  # longer than windows overlap
                continue
            ws = windows(tokenizer, layout, q.text, p.text, 128, 48)
            assert all(len(w.ids) <= 128 for w in ws)
            covered = {i for w in ws for s, e in w.offsets if s >= 0 for i in range(s, e)}
            assert covered >= {i for i in range(len(p.text)) if not p.text[i].isspace()}
            spans = [lab for lab in (labelled(w, span, SPAN) for w in ws) if lab.kind == SPAN]
            assert spans, f"no window holds the answer of {q.id}"
            for lab in spans:
                got = p.text[lab.offsets[lab.start][0] : lab.offsets[lab.end][1]]
                assert got.strip() == p.text[span[0] : span[1]].strip()
            checked += 1
    assert checked > 50


def test_yes_no_and_null_windows_point_at_the_first_token(tokenizer, paragraphs) -> None:
    p, q = paragraphs[0], paragraphs[0].questions[0]
    w = windows(tokenizer, Layout.bert(tokenizer), q.text, p.text, 128, 64)[0]
    for kind in (YES, NULL):
        lab = labelled(w, None, kind)
        assert (lab.start, lab.end, lab.kind) == (0, 0, kind)


def _tiny_run(tokenizer, paragraphs, work: Path, max_steps: int, steps: int):
    import torch
    from transformers import BertConfig, BertModel

    from qa.train.reader_net import reader_net
    from qa.train.reader_train import train

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=tokenizer.get_vocab_size(), hidden_size=32, num_hidden_layers=1,
                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=128)
    net = reader_net(BertModel(cfg, add_pooling_layer=False))
    maker = WindowMaker(tokenizer, Layout.bert(tokenizer), paragraphs[:4], 96, 48)
    args = argparse.Namespace(precision="fp32", epochs=1, max_steps=steps, batch=4, lr=1e-3,
                              seed=3, checkpoint_every=1, log_every=1000)
    # a run stopped after ``max_steps`` of the planned ``steps``
    stopped = argparse.Namespace(**{**vars(args), "stop_after": max_steps})
    train(net, maker, stopped, work, 0, log=lambda m: None)
    return net


@pytest.mark.slow
def test_a_stopped_run_resumes_to_the_same_weights(tokenizer, paragraphs, tmp_path) -> None:
    torch = pytest.importorskip("torch")
    straight = _tiny_run(tokenizer, paragraphs, tmp_path / "a", 6, 6)
    _tiny_run(tokenizer, paragraphs, tmp_path / "b", 3, 6)
    assert (tmp_path / "b" / "checkpoint.pt").is_file()
    assert torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)["step"] == 3
    resumed = _tiny_run(tokenizer, paragraphs, tmp_path / "b", 6, 6)
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values(),
                            strict=True):
        assert torch.allclose(a, b, atol=1e-6), name


@pytest.mark.slow
def test_a_reader_with_kind_heads_gives_kind_probabilities() -> None:
    """The shipped format-2 reader (span / yes / no / null heads) through ``Reader.read``: one
    probability per kind summing to one, and the span still found in its context."""
    from qa.models.reader import KINDS, Reader, default_folder

    reader = Reader(default_folder().parent / "reader-kinds")
    context = "长江全长约6300公里,是亚洲第一长河。"
    got = reader.read("长江全长多少公里?", [context, "今天的会议改到下午三点。"])
    for r in got:
        assert r.kinds is not None and len(r.kinds) == len(KINDS)
        assert abs(sum(r.kinds) - 1) < 1e-3 and r.kind in KINDS
    assert "6300公里" in context[got[0].start : got[0].end]
    assert got[0].kinds[0] > got[1].kinds[0]  # more "a span here" where the answer is
