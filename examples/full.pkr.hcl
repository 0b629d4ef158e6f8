# examples/full.json written as HCL2: every feature of the amazon-instance builder that ami-builder runs. The AMI
# is made public (ami_groups: all) and shared with one account; the product code is an example: replace it with
# one your account owns, or remove it, before building on AWS.
#
#   npx ami-builder validate examples/full.pkr.hcl
#   npx ami-builder inspect examples/full.pkr.hcl -var app_version=1.5.0

variable "region" {
  type    = string
  default = "us-east-1"
}

variable "app_version" {
  type    = string
  default = "1.4.2"
  validation {
    condition     = regex_replace(var.app_version, "^[0-9]+\\.[0-9]+\\.[0-9]+$", "") == ""
    error_message = "The app_version must look like 1.2.3."
  }
}

variable "team" {
  type    = string
  default = "platform"
}

variable "bucket" {
  type    = string
  default = "ami-builder-example-bundles"
}

variable "share_with_account" {
  type    = string
  default = "111122223333"
}

source "amazon-instance" "web" {
  region = var.region
  source_ami_filter {
    filters = {
      name                  = "ubuntu/images/hvm-instance/ubuntu-trusty-14.04-amd64-server-*"
      "root-device-type"    = "instance-store"
      "virtualization-type" = "hvm"
      architecture          = "x86_64"
    }
    owners      = ["099720109477"]
    most_recent = true
  }
  instance_type           = "m3.medium"
  ssh_username            = "ubuntu"
  account_id              = "0123-4567-0890"
  s3_bucket               = var.bucket
  x509_cert_path          = "${abspath(path.root)}/x509/cert.pem"
  x509_key_path           = "${abspath(path.root)}/x509/key.pem"
  x509_upload_path        = "/tmp/x509"
  ami_name                = "web-${var.app_version}-{{timestamp}}"
  ami_description         = "Web server ${var.app_version} built from {{.SourceAMIName}} in {{.BuildRegion}}"
  ami_virtualization_type = "hvm"
  ami_regions             = ["us-west-2", "eu-west-1", "ap-southeast-2"]
  ami_users               = [var.share_with_account]
  ami_groups              = ["all"]
  ami_product_codes       = ["8fpjo0dpwyuk1ta5wdagy6zmu"]
  tags = {
    Name          = "web ${var.app_version}"
    Team          = var.team
    Version       = var.app_version
    SourceAMI     = "{{.SourceAMI}}"
    SourceAMIName = "{{.SourceAMIName}}"
    BuildRegion   = "{{.BuildRegion}}"
  }
  run_tags = {
    Name = "ami-builder web ${var.app_version}"
    Team = var.team
  }
  ami_block_device_mappings {
    device_name  = "/dev/sdb"
    virtual_name = "ephemeral0"
  }
  ami_block_device_mappings {
    device_name  = "/dev/sdc"
    virtual_name = "ephemeral1"
  }
  launch_block_device_mappings {
    device_name  = "/dev/sdb"
    virtual_name = "ephemeral0"
  }
  force_deregister = true
}

# Not built here (only amazon-instance builds are): reported as skipped, as in full.json.
source "amazon-ebs" "web-ebs" {
  region        = var.region
  source_ami    = "ami-0123456789abcdef0"
  instance_type = "t3.micro"
  ssh_username  = "ubuntu"
  ami_name      = "web-ebs-${var.app_version}-{{timestamp}}"
}

build {
  description = "Web server image, instance-store backed, copied to three regions"
  sources     = ["source.amazon-instance.web", "source.amazon-ebs.web-ebs"]

  provisioner "shell" {
    inline = [
      "echo 'Provisioning web ${var.app_version} on '\"$(uname -r)\"",
      "sudo mkdir -p /opt/web /tmp/x509",
      "echo '${var.app_version}' | sudo tee /opt/web/VERSION",
    ]
  }

  provisioner "shell" {
    script           = "${abspath(path.root)}/scripts/install-ami-tools.sh"
    environment_vars = ["AMI_TOOLS_HOME=/opt/ec2-ami-tools"]
  }

  provisioner "file" {
    source      = "${abspath(path.root)}/files/motd"
    destination = "/tmp/motd"
  }

  provisioner "shell" {
    inline = ["sudo install -m 0644 /tmp/motd /etc/motd", "rm -f /tmp/motd"]
  }

  post-processor "manifest" {
    output      = "packer-manifest.json"
    strip_path  = true
    custom_data = { team = var.team, version = var.app_version }
  }
}
