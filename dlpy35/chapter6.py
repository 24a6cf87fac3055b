"""The book's chapter-6 networks: their layers and the hyperparameters the book trained them with.

Importing it is cheap (the layers, and PyTensor, load when :func:`book_layers` is first called), so
that a command's help lists the presets at once.
"""

from __future__ import annotations

#: Hyperparameters of the book's runs: eta, lmbda, epochs (mini-batch 10).
PRESETS = {
    "fc": {"eta": 0.1, "lmbda": 0.0, "epochs": 60},
    "conv1": {"eta": 0.1, "lmbda": 0.0, "epochs": 60},
    "conv2": {"eta": 0.1, "lmbda": 0.0, "epochs": 60},
    "conv2-relu": {"eta": 0.03, "lmbda": 0.1, "epochs": 60},
}
DROPOUT_PRESET = {"eta": 0.03, "lmbda": 0.0, "epochs": 40}


def book_layers(name, mini_batch_size=10, dropout=False, n_classes=10, extra_fc=False):
    """The layers of one of the book's chapter-6 networks.

    Parameters
    ----------
    name : {"fc", "conv1", "conv2", "conv2-relu"}
        ``fc``: FC 100 -> softmax, sigmoid (the chapter's first, shallow network);
        ``conv1``: conv 20x5x5 + 2x2 max-pool -> FC 100 -> softmax, sigmoid;
        ``conv2``: two conv-pool layers (20 and 40 maps), sigmoid;
        ``conv2-relu``: the same with ReLU.
    mini_batch_size : int
    dropout : bool
        Replace the FC-100 layer by two FC-1000 layers (the activation of `name`)
        with dropout 0.5, and drop out the softmax input too: the book's last
        network (with ``conv2-relu``; hyperparameters :data:`DROPOUT_PRESET`).
    n_classes : int
        Outputs of the softmax layer: 10 for the digits, another number for another data set.
    extra_fc : bool
        A second FC-100 layer after the first (the book's 99.43% run, with ``conv2-relu``).
    """
    # Imported here: the layers import PyTensor, which the presets do not need.
    from dlpy35.engine.layers import ConvPoolLayer, FullyConnectedLayer, ReLU, SoftmaxLayer, sigmoid

    if name not in PRESETS:
        raise ValueError(f"unknown network {name!r}; known: {', '.join(PRESETS)}")
    if dropout and extra_fc:
        raise ValueError("dropout replaces the FC-100 layers by two FC-1000 ones; extra_fc adds an FC-100: "
                         "give one of them")
    fn = ReLU if name.endswith("relu") else sigmoid
    layers = [] if name == "fc" else [ConvPoolLayer((20, 1, 5, 5), (mini_batch_size, 1, 28, 28), (2, 2), fn)]
    if name.startswith("conv2"):
        layers.append(ConvPoolLayer((40, 20, 5, 5), (mini_batch_size, 20, 12, 12), (2, 2), fn))
    n = layers[-1].n_out if layers else 784
    if dropout:
        layers += [FullyConnectedLayer(n, 1000, fn, p_dropout=0.5),
                   FullyConnectedLayer(1000, 1000, fn, p_dropout=0.5),
                   SoftmaxLayer(1000, n_classes, p_dropout=0.5)]
    else:
        layers += [FullyConnectedLayer(n, 100, fn)]
        layers += [FullyConnectedLayer(100, 100, fn)] if extra_fc else []
        layers += [SoftmaxLayer(100, n_classes)]
    return layers
