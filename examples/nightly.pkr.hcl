# examples/nightly.json written as HCL2: a build that needs no local file, for schedules (templateFile:
# "examples/nightly.pkr.hcl") and for `ami-builder inspect` + aws stepfunctions start-execution. The X.509 pair
# lives in S3 and Parameter Store.
#
# A schedule's HCL2 template is converted once, when the stack is synthesized: timestamp() would be frozen
# then. Names that change per build use the legacy {{isotime}} / {{timestamp}}, which the workflow renders when
# each execution starts.

variable "release" {
  type    = string
  default = "nightly"
}

variable "bucket" {
  type    = string
  default = "ami-builder-nightly-bundles"
}

source "amazon-instance" "nightly" {
  region           = "us-east-1"
  source_ami       = "ami-d9d6a6b0"
  instance_type    = "m3.medium"
  s3_bucket        = var.bucket
  x509_cert_path   = "s3://ami-builder-nightly-bundles/x509/cert.pem"
  x509_key_path    = "ssm:/ami-builder/x509/key"
  x509_upload_path = "/tmp/x509"
  ami_name         = "${var.release}-{{isotime `20060102-1504`}}"
  ami_description  = "${var.release} image built from {{.SourceAMI}}"
  ami_id_parameter = "/ami-builder/${var.release}/latest"
  tags = {
    Release   = var.release
    SourceAMI = "{{.SourceAMI}}"
  }
}

build {
  description = "A build that needs no local file, for schedules and for aws stepfunctions start-execution: the X.509 pair lives in S3 and Parameter Store."
  sources     = ["source.amazon-instance.nightly"]

  provisioner "shell" {
    inline = ["sudo apt-get update -y", "sudo apt-get install -y ruby unzip curl"]
  }
}
