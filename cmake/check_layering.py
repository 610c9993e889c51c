#!/usr/bin/env python3
"""Fails when a source file includes a header its target may not include.

The rules come from cmake/Layering.cmake (<build>/layering/rules.txt):

  owner<TAB><prefix><TAB><target>     a path (or include path) prefix and the
                                      target that owns what starts with it;
                                      the longest prefix wins
  visible<TAB><target><TAB><t1 t2 ..> the targets whose headers <target>'s
                                      files may include: itself and what it
                                      links (docs/architecture.md)

Every file under the owned directories of the source root is read; each
#include is resolved like the compiler's quoted form (beside the file first,
then from the root) and its owner looked up. Includes that no rule owns
(the standard library, absl, spdlog, ...) are free. A header of the source
tree that no target owns is an error too: nothing may link it.

Exit status 0 and --stamp written when all is well; 1 with one
"path:line: error: ..." per offending include (the form editors and CI logs
link to) otherwise; 2 on bad usage.
"""

import argparse
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
SOURCE_SUFFIXES = ('.h', '.hh', '.hpp', '.inc', '.cc', '.cpp', '.cxx')
DOC = 'docs/architecture.md, "Layers"'


def read_rules(path):
    owners = []  # (prefix, target), longest prefix first
    visible = {}
    with open(path, encoding='utf-8') as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip('\n')
            if not line or line.startswith('#'):
                continue
            fields = line.split('\t')
            if fields[0] == 'owner' and len(fields) == 3:
                owners.append((fields[1], fields[2]))
            elif fields[0] == 'visible' and len(fields) == 3:
                visible[fields[1]] = set(fields[2].split())
            else:
                raise SystemExit(f'{path}:{number}: unreadable rule: {line!r}')
    owners.sort(key=lambda owner: len(owner[0]), reverse=True)
    return owners, visible


def owner_of(path, owners):
    for prefix, target in owners:
        if path.startswith(prefix):
            return target
    return None


def scan_roots(root, owners, visible):
    """Directories holding the layers' files (generated-only prefixes skipped)."""
    roots = set()
    for prefix, target in owners:
        if target not in visible:
            continue  # an imported library's headers: not ours to scan
        directory = prefix if prefix.endswith('/') else os.path.dirname(prefix)
        if directory and os.path.isdir(os.path.join(root, directory)):
            roots.add(directory.rstrip('/'))
    # A directory inside another is walked with it.
    return sorted(r for r in roots if not any(r.startswith(o + '/') for o in roots))


def walk(root, directories):
    files, dirs = [], []
    for top in directories:
        for current, subdirs, names in os.walk(os.path.join(root, top)):
            subdirs.sort()
            dirs.append(current)
            for name in sorted(names):
                if name.endswith(SOURCE_SUFFIXES):
                    files.append(os.path.relpath(os.path.join(current, name), root))
    return files, dirs


def resolve(root, including, spelled, quoted):
    """The repository path of an include if it is a file of the tree, else its spelling."""
    if quoted:
        beside = os.path.normpath(os.path.join(os.path.dirname(including), spelled))
        if not beside.startswith('..') and os.path.isfile(os.path.join(root, beside)):
            return beside, True
    path = os.path.normpath(spelled)
    return path, os.path.isfile(os.path.join(root, path))


def check_file(root, path, owners, visible, shown_root):
    target = owner_of(path, owners)
    if target is None or target not in visible:
        return []
    allowed = visible[target]
    where = os.path.join(shown_root, path)  # as given: absolute from CMake, so editors can open it
    errors = []
    with open(os.path.join(root, path), encoding='utf-8', errors='replace') as f:
        for number, line in enumerate(f, 1):
            match = INCLUDE.match(line)
            if not match:
                continue
            bracket, spelled = match.groups()
            shown = f'"{spelled}"' if bracket == '"' else f'<{spelled}>'
            included, in_tree = resolve(root, path, spelled, bracket == '"')
            header_owner = owner_of(included, owners)
            if header_owner is None:
                if in_tree:
                    errors.append(f'{where}:{number}: error: layering: #include {shown} is a file '
                                  f'of the source tree that no target owns (moe4_layer), so '
                                  f'{target} cannot link it [{DOC}]')
                continue
            if header_owner in allowed:
                continue
            links = ', '.join(sorted(t for t in allowed if t != target and owner_known(t, owners)))
            errors.append(f'{where}:{number}: error: layering: #include {shown} belongs to '
                          f'{header_owner}, which {target} does not link; rule: a file may '
                          f'include only headers of its own target and of the targets it links '
                          f'({target} links: {links or "none of ours"}) [{DOC}]')
    return errors


def owner_known(target, owners):
    return any(t == target for _, t in owners)


def write_depfile(depfile, stamp, inputs):
    def escape(p):
        return p.replace('\\', '\\\\').replace(' ', '\\ ').replace('#', '\\#').replace('$', '$$')
    with open(depfile, 'w', encoding='utf-8') as f:
        f.write(escape(stamp) + ':')
        for p in inputs:
            f.write(' \\\n  ' + escape(p))
        f.write('\n')


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--root', required=True, help='source root')
    parser.add_argument('--rules', required=True, help='rules.txt from cmake/Layering.cmake')
    parser.add_argument('--stamp', help='written (empty) when the check passes')
    parser.add_argument('--depfile', help='Make-style list of everything read, for Ninja')
    parser.add_argument('files', nargs='*',
                        help='check only these (paths relative to --root); default: every owned file')
    args = parser.parse_args(argv)

    root = os.path.realpath(args.root)
    owners, visible = read_rules(args.rules)
    directories = scan_roots(root, owners, visible)
    files, dirs = walk(root, directories)
    if args.files:
        files = [os.path.normpath(f) for f in args.files]

    errors = []
    for path in files:
        errors.extend(check_file(root, path, owners, visible, args.root))

    if args.depfile and args.stamp:
        write_depfile(args.depfile, os.path.abspath(args.stamp),
                      [os.path.join(root, f) for f in files] + dirs)
    if errors:
        for error in errors:
            print(error, file=sys.stderr)
        print(f'layering: {len(errors)} wrong-way include(s) in {len(files)} files checked',
              file=sys.stderr)
        if args.stamp and os.path.exists(args.stamp):
            os.remove(args.stamp)
        return 1
    if args.stamp:
        with open(args.stamp, 'w', encoding='utf-8') as f:
            f.write(f'{len(files)} files checked\n')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
