#!/bin/sh
# Make the release tag the package version: `sh ci/stamp-version.sh 1.2.3` sets version = "1.2.3"
# in pyproject.toml before the job image is built, so `jira2robot --version` in image 1.2.3
# says 1.2.3. Between releases pyproject.toml keeps a dev version, and `pip install -e .`
# works on any clone, tagged or not.
#
# A tag is a release only as exactly a semantic version (the CI/CD Catalog refuses `v1.2.3`).
# Pre-releases must also be Python versions for the image's package (PEP 440 reads 1.3.0-rc.1
# as 1.3.0rc1), so only -alpha.N, -beta.N and -rc.N are accepted: any other tag stops here,
# before an image is pushed.
set -eu
version="$1"
if ! printf '%s\n' "$version" | grep -Eqx '(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-(alpha|beta|rc)\.[0-9]+)?'; then
  echo "stamp-version: '$1' is not a semantic version tag (1.2.3, or 1.3.0-rc.1 / -beta.1 / -alpha.1; no leading v)" >&2
  exit 2
fi
sed -i -E "s/^version = \"[^\"]*\"$/version = \"$version\"/" pyproject.toml
grep -qx "version = \"$version\"" pyproject.toml
echo "pyproject.toml: version = \"$version\""
