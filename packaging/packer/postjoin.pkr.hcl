# postjoin for the upstream amazon-eks-ami Packer template (templates/al2023/template.pkr.hcl).
# This is a snippet, not a whole template:
#   1. Copy the `variable` and `locals` blocks to the template's top level (beside its own variables).
#   2. Paste the `provisioner` blocks inside its `build { }`, after the install-nodeadm.sh provisioner and
#      before cleanup.sh. The template's last provisioner, configure-selinux.sh, relabels /usr/bin, which
#      covers /usr/bin/postjoin.
#   3. Build the RPMs (npm run build:rpm) and give the template their directory, e.g. through the variable
#      file the upstream Makefile merges over its defaults:
#        echo '{"postjoin_rpm_dir": "/path/to/postjoin/dist/rpm"}' > postjoin-vars.json
#        make k8s=1.33 os_distro=al2023 PACKER_VARIABLE_FILE=postjoin-vars.json
#   4. Task files to bake go in templates/al2023/postjoin/tasks.d/ (the directory must exist; it may be
#      empty). See packaging/examples/ in the postjoin repository.

variable "postjoin_rpm_dir" {
  type        = string
  description = "Directory on the Packer host with postjoin-VERSION-1.{x86_64,aarch64}.rpm (npm run build:rpm writes dist/rpm/)."
}

variable "postjoin_version" {
  type        = string
  default     = "0.1.0"
  description = "postjoin version in the RPM file names."
}

locals {
  # The template's var.arch is EC2's architecture name (x86_64 or arm64); the RPM says aarch64.
  postjoin_rpm = "postjoin-${var.postjoin_version}-1.${var.arch == "arm64" ? "aarch64" : "x86_64"}.rpm"
}

provisioner "shell" {
  inline = ["mkdir -p ${local.working_dir}/postjoin/tasks.d"]
}

provisioner "file" {
  source      = "${var.postjoin_rpm_dir}/${local.postjoin_rpm}"
  destination = "${local.working_dir}/postjoin/${local.postjoin_rpm}"
}

provisioner "file" {
  # The trailing "/" uploads the directory's contents.
  source      = "${path.root}/postjoin/tasks.d/"
  destination = "${local.working_dir}/postjoin/tasks.d"
}

provisioner "shell" {
  remote_folder  = "${var.remote_folder}"
  # bash, not the default /bin/sh -e: the lines below use pipefail, nullglob and arrays.
  inline_shebang = "/bin/bash -e"
  inline = [
    "set -euo pipefail",
    # %post enables postjoin.service without starting it: nothing runs until the node boots and joins.
    "sudo dnf install -y ${local.working_dir}/postjoin/${local.postjoin_rpm}",
    "shopt -s nullglob; for f in ${local.working_dir}/postjoin/tasks.d/*.{yaml,yml,json}; do sudo install -m 0600 \"$f\" /etc/postjoin/tasks.d/; done",
    "/usr/bin/postjoin --version",
    "test \"$(systemctl is-enabled postjoin.service)\" = enabled",
    # Static (no [Install]): postjoin.service pulls it in and it runs after it.
    "test \"$(systemctl is-enabled postjoin-report.service)\" = static",
    # Offline check of the baked task files against the baked config; touches neither IMDS nor units.
    "shopt -s nullglob; f=(/etc/postjoin/tasks.d/*); if [ $${#f[@]} -gt 0 ]; then sudo /usr/bin/postjoin validate --config /etc/postjoin/config.yaml \"$${f[@]}\"; fi",
  ]
}
