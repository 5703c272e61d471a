"""Signal processing on arrays: band envelopes, window averages, correlations.

Pure array functions with no knowledge of networks: :mod:`.bands` (the default
bands and the original filter bank), :mod:`.envelopes` (zero-phase band
filters and Hilbert envelopes), :mod:`.windows` (moving averages over
receptive fields) and :mod:`.correlations` (Pearson r pooled over trials and
time, accumulated batch by batch).
"""
