"""Graph algorithms for pipelines whose edges order their nodes: a stable
topological order and the cycles (strongly connected components), both
iterative, so a 100,000-node config cannot exhaust the stack."""

from __future__ import annotations

import heapq
from collections.abc import Iterator


def topological_order(successors: list[list[int]]) -> tuple[list[int], list[int]]:
    """Kahn's algorithm; ties go to the lowest list index.

    Returns (ordered indices, indices left over because they are on or behind
    a cycle, in list order). O((n + e) log n).
    """
    indegree = [0] * len(successors)
    for targets in successors:
        for t in targets:
            indegree[t] += 1
    ready = [i for i, d in enumerate(indegree) if d == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for t in successors[i]:
            indegree[t] -= 1
            if indegree[t] == 0:
                heapq.heappush(ready, t)
    left = [i for i, d in enumerate(indegree) if d > 0]
    return order, left


def cycles(successors: list[list[int]]) -> list[list[int]]:
    """The strongly connected components that contain a cycle, each in list order.

    Kahn's pass first discards everything not behind a cycle (the usual case:
    all of it), then iterative Tarjan on the rest separates the true cycle
    members from nodes merely downstream of one. Components come out ordered
    by their first node's list index.
    """
    _, left = topological_order(successors)
    if not left:
        return []
    remaining = set(left)
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[int] = []
    components: list[list[int]] = []
    counter = 0

    for root in left:
        if root in index:
            continue
        # Each frame: (node, iterator over its successors inside `remaining`).
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        frames: list[tuple[int, Iterator[int]]] = [
            (root, (t for t in successors[root] if t in remaining))
        ]
        while frames:
            v, children = frames[-1]
            advanced = False
            for w in children:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    frames.append((w, (t for t in successors[w] if t in remaining)))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            frames.pop()
            if frames:
                parent = frames[-1][0]
                low[parent] = min(low[parent], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1 or v in successors[v]:
                    components.append(sorted(component))
    components.sort(key=lambda c: c[0])
    return components
