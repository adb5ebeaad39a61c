"""Reusable building blocks shared by the models (warping, SpyNet, resizing, attention, ...).

Import from the submodules directly, e.g. ``from vsrkit.ops.resize import imresize``.
"""
