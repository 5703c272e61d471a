"""Networks: building them, making them dense, running them fast, and where
their outputs lie in time.

:mod:`.models` builds braindecode's Deep4Net and ShallowFBCSPNet (and names
their default layers), :mod:`.dense` replaces strides by dilations,
:mod:`.fast` gives copies and views that compute the same outputs faster,
:mod:`.capture` records layer outputs in one forward pass, and
:mod:`.geometry` finds each layer's receptive field and checks it three ways.
"""
