#!/usr/bin/env python3
"""Compose v2's `!reset` and `!override` merge tags, for podman-compose 1.0.3.

    compose_tags.py FILE...   prints the files to pass instead, one a line

podman-compose 1.0.3 loads every -f file with yaml.safe_load, which refuses
tags it does not know, and merges lists by appending, so an override file has
no way to take a published port away from a service (ops/docker/compose.scale.yml
does exactly that, with `ports: !reset []`). Compose v2 (2.24 and later)
reads `!reset` as "drop what the files before this one set here" and
`!override` as "replace it with this"; this does the same ahead of
podman-compose: for each tagged key, the key is deleted from every earlier
file, and from this one for `!reset`; the tag is dropped from `!override`.

A file that needs no change is printed as it is. A changed one is written
next to its original as a hidden file (.td-compose-*.yml): podman-compose
resolves relative paths (build contexts, bind mounts, .env) against the
first file's directory, so a copy elsewhere would change what they mean.
ops/podman/compose.sh removes those copies when podman-compose is done.
The copies have no comments or anchors (YAML merge keys are expanded),
which changes nothing podman-compose reads.
"""
import os
import sys
import tempfile

import yaml


class Tagged:
    """A value under `!reset` or `!override`."""

    def __init__(self, tag, value):
        self.tag = tag
        self.value = value


class Loader(yaml.SafeLoader):
    pass


def construct_tagged(loader, tag_suffix, node):
    if isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_scalar(node)
    return Tagged(tag_suffix, value)


for _tag in ("reset", "override"):
    Loader.add_constructor("!" + _tag, lambda l, n, t=_tag: construct_tagged(l, t, n))


def tagged_paths(node, path=()):
    """Every (path, Tagged) under node, depth first."""
    if isinstance(node, Tagged):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from tagged_paths(value, path + (key,))


def delete_path(doc, path):
    """Deletes doc[path[0]][path[1]]...; True when something was there."""
    for key in path[:-1]:
        if not isinstance(doc, dict) or key not in doc:
            return False
        doc = doc[key]
    if isinstance(doc, dict) and path[-1] in doc:
        del doc[path[-1]]
        return True
    return False


def set_path(doc, path, value):
    for key in path[:-1]:
        doc = doc[key]
    doc[path[-1]] = value


def main(files):
    docs = []
    for name in files:
        with open(name, encoding="utf-8") as f:
            docs.append(yaml.load(f, Loader=Loader) or {})
    changed = [False] * len(docs)
    for i, doc in enumerate(docs):
        for path, tagged in list(tagged_paths(doc)):
            for j in range(i):
                changed[j] |= delete_path(docs[j], path)
            if tagged.tag == "reset":
                delete_path(doc, path)
            else:
                set_path(doc, path, tagged.value)
            changed[i] = True
    for name, doc, dirty in zip(files, docs, changed):
        if not dirty:
            print(name)
            continue
        fd, copy = tempfile.mkstemp(prefix=".td-compose-", suffix=".yml",
                                    dir=os.path.dirname(os.path.abspath(name)))
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("# made by ops/podman/compose_tags.py from %s; removed after use\n" % name)
            yaml.safe_dump(doc, f, sort_keys=False)
        print(copy)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: compose_tags.py FILE...")
    main(sys.argv[1:])
