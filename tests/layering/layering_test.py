#!/usr/bin/env python3
"""Checks cmake/check_layering.py against the rules this build generated.

The real tree must pass. Then each case writes one file with one #include
into a scratch tree and runs the checker there: a wrong-way include must
fail with "<root>/<file>:<line>: error: layering:", the header's owner, the
including target and the rule; an allowed one must pass.
"""

import argparse
import os
import subprocess
import sys
import tempfile

RULE = 'a file may include only headers of its own target and of the targets it links'

# (file, include line, header owner, including target); line 3 is the include.
WRONG_WAY = [
    ('coordinator/store/bad_store.cc', '#include "coordinator/service/campaign_service.h"',
     'moe4_coordinator_service', 'moe4_coordinator_store'),
    ('coordinator/scheduler/bad_scheduler.cc', '#include "coordinator/store/pg_pool.h"',
     'moe4_coordinator_store', 'moe4_coordinator_scheduler'),
    ('coordinator/scheduler/bad_scheduler.h', '#include <pqxx/pqxx>',
     'PkgConfig::PQXX', 'moe4_coordinator_scheduler'),
    ('coordinator/scheduler/grpc_scheduler.h', '#include "moe4/v1/moe4.grpc.pb.h"',
     'moe4_proto_grpc', 'moe4_coordinator_scheduler'),
    ('coordinator/service/sql_service.cc', '#include <pqxx/pqxx>',
     'PkgConfig::PQXX', 'moe4_coordinator_service'),
    ('coordinator/store/relative.cc', '#include "../http/dashboard.h"',
     'moe4_coordinator_http', 'moe4_coordinator_store'),
    ('common/bad_common.cc', '#include "coordinator/store/job_store.h"',
     'moe4_coordinator_store_api', 'moe4_common'),
    ('common/bad_common.h', '#  include <grpcpp/grpcpp.h>',
     'gRPC::grpc++', 'moe4_common'),
    ('ctl/bad_ctl.cc', '#include "coordinator/scheduler/asha.h"',
     'moe4_coordinator_scheduler', 'moe4_ctl_lib'),
]

# Includes the layering allows.
RIGHT_WAY = [
    ('coordinator/service/good_service.cc', '#include "coordinator/scheduler/campaign_planner.h"'),
    ('coordinator/service/good_grpc.cc', '#include <grpcpp/server_context.h>'),
    ('coordinator/store/good_store.cc', '#include "coordinator/scheduler/asha.h"'),
    ('coordinator/scheduler/good_scheduler.cc', '#include "coordinator/store/job_store.h"'),
    ('coordinator/server/good_server.cc', '#include "coordinator/http/dashboard.h"'),
    ('common/good_common.cc', '#include "moe4/v1/moe4.pb.h"'),
]


def write(root, path, text):
    full = os.path.join(root, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, 'w', encoding='utf-8') as f:
        f.write(text)


def run(args, root, *extra):
    return subprocess.run([sys.executable, args.checker, '--root', root, '--rules', args.rules, *extra],
                          capture_output=True, text=True, check=False)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--checker', required=True)
    parser.add_argument('--rules', required=True)
    parser.add_argument('--root', required=True)
    args = parser.parse_args()
    failures = []

    result = run(args, args.root)
    if result.returncode != 0:
        failures.append(f'the source tree fails the check:\n{result.stderr}')

    for path, include, owner, target in WRONG_WAY:
        with tempfile.TemporaryDirectory() as root:
            write(root, path, f'// A wrong-way include.\n\n{include}\n')
            # The header exists, as in the real tree (a relative include
            # resolves beside the file only when it does).
            header = include.split('"')[1] if '"' in include else None
            if header:
                write(root, os.path.normpath(os.path.join(os.path.dirname(path), header))
                       if header.startswith('..') else header, '#pragma once\n')
            result = run(args, root)
            expected = [f'{os.path.join(root, path)}:3: error: layering:', f'belongs to {owner}',
                        f'which {target} does not link', RULE]
            missing = [e for e in expected if e not in result.stderr]
            if result.returncode != 1 or missing:
                failures.append(f'{path} with {include}: exit {result.returncode}, missing {missing}:\n'
                                f'{result.stderr}')
            else:
                print(f'ok   {path}: {include} refused')

    for path, include in RIGHT_WAY:
        with tempfile.TemporaryDirectory() as root:
            write(root, path, f'{include}\n')
            result = run(args, root)
            if result.returncode != 0:
                failures.append(f'{path} with {include} refused:\n{result.stderr}')
            else:
                print(f'ok   {path}: {include} allowed')

    # A header of the tree that no target owns cannot be included either.
    with tempfile.TemporaryDirectory() as root:
        write(root, 'tests/helper.h', '#pragma once\n')
        write(root, 'common/uses_test.cc', '#include "tests/helper.h"\n')
        result = run(args, root)
        if result.returncode != 1 or 'no target owns' not in result.stderr:
            failures.append(f'an unowned header was allowed: exit {result.returncode}\n{result.stderr}')
        else:
            print('ok   common/uses_test.cc: unowned tests/helper.h refused')

    for failure in failures:
        print(f'FAIL {failure}', file=sys.stderr)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
