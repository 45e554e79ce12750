#!/bin/sh
# Make the release tag the package version: `sh ci/stamp-version.sh v1.2.3` sets version = "1.2.3"
# in pyproject.toml before the job image is built, so `jira2robot --version` in image 1.2.3
# says 1.2.3. Between releases pyproject.toml keeps a dev version, and `pip install -e .`
# works on any clone, tagged or not.
set -eu
version="${1#v}"
case "$version" in
  [0-9]*.[0-9]*.[0-9]*) ;;
  *) echo "stamp-version: '$1' is not a semantic version tag (1.2.3 or v1.2.3)" >&2; exit 2 ;;
esac
sed -i -E "s/^version = \"[^\"]*\"$/version = \"$version\"/" pyproject.toml
grep -qx "version = \"$version\"" pyproject.toml
echo "pyproject.toml: version = \"$version\""
