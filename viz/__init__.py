"""Pictures of engine objects (computation graphs, attention maps, training curves).

A stub for now: the drawing code arrives with the graph-visualisation work. Nothing in
``tinygrad_attn`` imports this package.
"""
