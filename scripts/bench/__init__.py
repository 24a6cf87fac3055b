"""Benchmarks of dlpy35 against its peers, run through ``python scripts/bench.py``.

``mlp``
    the book's chapter-1 network, every implementation (the default);
``conv``
    the chapter-6 conv nets, dlpy35 against PyTorch (``--network conv``);
``profile``
    where the time of one chapter-1 SGD step goes (``--profile``);
``peers``
    the implementations measured against dlpy35;
``cli``, ``results``
    the flags every benchmark shares and the JSON results and tables they write.

Nothing here is imported at package level: a peer subprocess in another
interpreter imports this package with only numpy and its own library.
"""
