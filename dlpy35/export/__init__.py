"""Trained networks out of Python: an ONNX model, and a web page that runs offline in a browser.

Both start from :func:`dlpy35.export.plain_layers.portable_layers`, so they handle every kind of
dlpy35 network (chapter 1 and 3's sigmoid networks, chapter 6's layer stacks) alike.

Modules
-------
onnx_model
    :func:`~dlpy35.export.onnx_model.write_onnx`: an ONNX graph (needs ``pip install onnx``).
web_page
    :func:`~dlpy35.export.web_page.write_html`: one self-contained HTML file with a canvas
    to draw on, the MNIST preparation of :mod:`dlpy35.data.digit_images` in JavaScript, and the
    network's forward pass.
"""
