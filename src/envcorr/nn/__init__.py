"""Networks: building them, making them dense, running them fast, and where
their outputs lie in time.

:mod:`.models` builds any braindecode classifier, :mod:`.layers` names each
network's default layers (a table, and a rule for any other network),
:mod:`.dense` replaces strides by dilations, :mod:`.fast` gives copies and
views that compute the same outputs faster, :mod:`.capture` records layer
outputs in one forward pass, :mod:`.footprint` follows the input's samples
through every operation to find each output position's window, and
:mod:`.geometry` turns those windows into each layer's
:class:`~.geometry.LayerGeometry`, cross-checked by gradients.
"""
