"""Lie groups for LieConv: group elements, their logarithms, and lifts of point clouds to the group."""
