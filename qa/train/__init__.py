"""Train: ``fit`` (``qa fit``: the answer layer's weights from public sets, with provenance)
and ``reader_train`` (``qa train-reader``). Only the CLI's fit and train commands import
this package; nothing that answers a question does."""
