"""The Trio shell of the simulator: the socket server and the :class:`Simulator` handle.

Everything the exchange decides (matching, accounts, signatures, the synthetic market, the frames
it sends) is in the sans-IO modules one folder up; these modules only move bytes and time.
"""
