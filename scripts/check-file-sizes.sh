#!/bin/sh
# check-file-sizes.sh fails when git tracks a file over the limit (2 MB by
# default, or $1 bytes): build outputs, models and data do not belong in the
# repository. It reads the sizes of the blobs in git's index, so it checks
# what a commit would hold, on any system with git. make test runs it.
set -eu
limit=${1:-2097152}
cd "$(git rev-parse --show-toplevel)"
big=$(git ls-files -s | sed 's/^[0-7]* \([0-9a-f]*\) [0-9]*	/\1 /' |
	git cat-file --batch-check='%(objectsize) %(rest)' |
	awk -v l="$limit" '$1 > l { printf "  %s (%d bytes)\n", substr($0, index($0, " ") + 1), $1 }')
if [ -n "$big" ]; then
	echo "check-file-sizes: git tracks files over $limit bytes; remove them (git rm --cached) and ignore them:" >&2
	echo "$big" >&2
	exit 1
fi
echo "check-file-sizes: no tracked file over $limit bytes"
