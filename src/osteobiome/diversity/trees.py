"""Phylogenetic trees for Faith's PD and UniFrac: read a Newick tree, check it covers the features, and express
it as a feature × branch incidence matrix so both indices become matrix products."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

from osteobiome.errors import InputError, preview

if TYPE_CHECKING:
    from skbio import TreeNode


def load_tree(tree: TreeNode | str | Path) -> TreeNode:
    """A scikit-bio TreeNode from a Newick file path (or the tree itself)."""
    from skbio import TreeNode  # here: scikit-bio is slow to import and only phylogenetic metrics need it

    if isinstance(tree, TreeNode):
        return tree
    path = Path(tree)
    if not path.is_file():
        raise InputError(f"{path}: tree file not found; pass a Newick file with --tree.")
    try:
        return TreeNode.read(str(path), format="newick")
    except Exception as exc:  # skbio raises several parser errors
        raise InputError(f"{path}: not a readable Newick tree ({type(exc).__name__}: {exc}).") from exc


def branch_incidence(tree: TreeNode, features: pd.Index) -> tuple[sp.csr_matrix, np.ndarray]:
    """``(M, lengths)``: ``M[f, b] = 1`` when feature ``f`` lies below branch ``b`` (every node but the root), and
    each branch's length. Features that are not tips of the tree are an error naming a few of them."""
    tips = [t.name for t in tree.tips()]
    if len(set(tips)) != len(tips):
        dup = pd.Index(tips)[pd.Index(tips).duplicated()].unique()
        raise InputError(f"tree: tip names {preview(dup)} occur more than once; tips must be unique.")
    missing = pd.Index(features).difference(pd.Index(tips), sort=False)
    if len(missing):
        raise InputError(
            f"tree: features {preview(missing)} are not tips of the tree; "
            "use the tree built for this feature table (tip names must equal feature ids)."
        )
    position = {name: i for i, name in enumerate(features)}
    rows, cols, lengths = [], [], []
    below: dict[int, list[int]] = {}
    for node in tree.postorder(include_self=True):
        if node.is_tip():
            members = [position[node.name]] if node.name in position else []
        else:
            members = [f for child in node.children for f in below.pop(id(child))]
        below[id(node)] = members
        if node.is_root():
            continue
        if node.length is None:
            raise InputError(f"tree: node {node.name or '(unnamed)'!r} has no branch length; give every branch a length.")
        b = len(lengths)
        lengths.append(float(node.length))
        rows.extend(members)
        cols.extend([b] * len(members))
    M = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(features), len(lengths)))
    return M, np.asarray(lengths)
