#!/bin/bash
# Installs the Amazon EC2 AMI Tools (ec2-bundle-vol, ec2-upload-bundle, …) on the build instance, which the
# bundle and upload steps run with `sudo -i -n`. Packer's most common amazon-instance failure is a source AMI
# without them ("ec2-bundle-vol: command not found", exit 127).
#
# - Installs what the tools need from the distribution: Ruby (the tools are Ruby scripts), curl and unzip to
#   fetch them, rsync (ec2-bundle-vol copies the volume with it) and gdisk, kpartx and parted (partitioned HVM
#   volumes). apt (Debian, Ubuntu) and dnf/yum (Amazon Linux, RHEL and derivatives) are supported.
# - Downloads the tools from AWS over HTTPS into $AMI_TOOLS_HOME/<version>.
# - Puts a wrapper for each tool in /usr/local/bin, on root's login PATH, that sets EC2_AMITOOL_HOME: the tools
#   refuse to start without it, and `sudo -i` does not keep the caller's environment.
#
# Bundling an HVM volume also needs GRUB legacy on the source image (menu.lst); that is a property of the source
# AMI, not something this script changes.
#
# Environment (all optional): AMI_TOOLS_URL, AMI_TOOLS_HOME (default /opt/ec2-ami-tools), AMI_TOOLS_BIN_DIR
# (default /usr/local/bin).
# Idempotent: when root's login shell already finds ec2-bundle-vol and ec2-upload-bundle it changes nothing; a
# second run of an installation finds the same version installed and only refreshes the wrappers.
set -euo pipefail

AMI_TOOLS_URL="${AMI_TOOLS_URL:-https://s3.amazonaws.com/ec2-downloads/ec2-ami-tools.zip}"
AMI_TOOLS_HOME="${AMI_TOOLS_HOME:-/opt/ec2-ami-tools}"
BIN_DIR="${AMI_TOOLS_BIN_DIR:-/usr/local/bin}"

# Provisioners run as ssh_username (here "ubuntu"): the system changes need root.
if [ "$(id -u)" -eq 0 ]; then
  as_root() { "$@"; }
  # Root's login shell, as `sudo -i` gives the bundle commands.
  as_root_login() { bash -l -c "$*"; }
else
  as_root() { sudo -n "$@"; }
  as_root_login() { sudo -n -i "$@"; }
fi

# A source AMI that already has the tools on root's login PATH (or an earlier run) needs nothing more. The
# offline emulator's instances have stand-ins there, and no route to the internet to download anything.
if as_root_login command -v ec2-bundle-vol >/dev/null 2>&1 && as_root_login command -v ec2-upload-bundle >/dev/null 2>&1; then
  echo "The EC2 AMI Tools are already on root's login PATH ($(as_root_login command -v ec2-bundle-vol)): nothing to install."
  exit 0
fi

install_packages() {
  if command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    # Cloud-init may still hold the dpkg lock right after boot.
    for attempt in 1 2 3 4 5 6; do
      if as_root apt-get update -q && as_root apt-get install -y -q ruby curl unzip rsync gdisk kpartx parted; then
        return 0
      fi
      echo "apt-get failed (attempt $attempt); retrying in 10 s" >&2
      sleep 10
    done
    return 1
  elif command -v dnf >/dev/null 2>&1; then
    as_root dnf install -y ruby curl unzip rsync gdisk kpartx parted
  elif command -v yum >/dev/null 2>&1; then
    as_root yum install -y ruby curl unzip rsync gdisk kpartx parted
  else
    echo "No apt-get, dnf or yum: install ruby, curl, unzip, rsync, gdisk, kpartx and parted yourself" >&2
    return 1
  fi
}

echo "Installing the EC2 AMI Tools' dependencies..."
install_packages

workdir=$(mktemp -d)
trap 'rm -rf -- "$workdir"' EXIT

echo "Downloading $AMI_TOOLS_URL..."
curl --fail --silent --show-error --location --retry 5 --retry-delay 5 \
  --proto '=https' --tlsv1.2 -o "$workdir/ec2-ami-tools.zip" "$AMI_TOOLS_URL"
unzip -q "$workdir/ec2-ami-tools.zip" -d "$workdir/unpacked"

# The archive holds one folder, ec2-ami-tools-<version>/ with bin/, lib/ and etc/.
shopt -s nullglob
folders=("$workdir"/unpacked/ec2-ami-tools-*/)
shopt -u nullglob
if [ "${#folders[@]}" -ne 1 ] || [ ! -x "${folders[0]}bin/ec2-bundle-vol" ]; then
  echo "Unexpected archive layout: expected one ec2-ami-tools-<version>/ folder with bin/ec2-bundle-vol" >&2
  exit 1
fi
unpacked="${folders[0]%/}"
version="${unpacked##*/ec2-ami-tools-}"
target="$AMI_TOOLS_HOME/$version"

if [ -x "$target/bin/ec2-bundle-vol" ]; then
  echo "EC2 AMI Tools $version are already installed in $target"
else
  as_root mkdir -p "$AMI_TOOLS_HOME"
  as_root rm -rf -- "$target.partial"
  as_root cp -R -- "$unpacked" "$target.partial"
  as_root chown -R 0:0 "$target.partial"
  as_root chmod -R go-w "$target.partial"
  as_root mv -- "$target.partial" "$target"
fi
as_root ln -sfn -- "$target" "$AMI_TOOLS_HOME/current"

echo "Linking the tools into $BIN_DIR..."
for tool in "$target"/bin/ec2-*; do
  name="${tool##*/}"
  wrapper="$workdir/$name"
  printf '#!/bin/bash\n# Installed by install-ami-tools.sh\nexport EC2_AMITOOL_HOME=%q\nexec "$EC2_AMITOOL_HOME/bin/%s" "$@"\n' \
    "$AMI_TOOLS_HOME/current" "$name" >"$wrapper"
  as_root install -m 0755 -o root -g root "$wrapper" "$BIN_DIR/$name"
done

# The bundle step runs the tools from root's login shell: check that they are found there.
if ! as_root_login ec2-ami-tools-version; then
  echo "ec2-ami-tools-version does not run from root's login shell: is $BIN_DIR on root's PATH?" >&2
  exit 1
fi
echo "EC2 AMI Tools $version installed."
