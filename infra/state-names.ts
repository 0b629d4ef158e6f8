/**
 * Every state name of the build state machine, in the order the build runs. The names are a contract with the
 * Step Functions console, execution history, the tests and the local runner (whose overrides are keyed by state
 * name): change one only together with docs/ARCHITECTURE.md.
 */
export const StateNames = {
  ValidateTemplate: 'Validate Template',
  TemplateInvalid: 'Template Invalid',
  ResumeRequestedChoice: 'Resume Requested?',
  PrepareResume: 'Prepare Resume',
  BuildEachBuilder: 'Build Each Builder',

  ResumeBuildChoice: 'Resume Build?',
  AdoptKeptResources: 'Adopt Kept Resources',
  ResumeAtChoice: 'Resume At?',
  ProvisionerDoneBefore: 'Provisioner Done Before?',
  ProvisionerSkipped: 'Provisioner Skipped',

  Prevalidate: 'Prevalidate',
  SkipIfUnchangedChoice: 'Skip If Unchanged?',
  CheckUnchanged: 'Check Unchanged',
  UnchangedChoice: 'Unchanged?',
  EnsureBundleBucket: 'Ensure Bundle Bucket',
  CreateSecurityGroup: 'Create Security Group',
  CreateInstanceRole: 'Create Instance Role',
  LaunchInstance: 'Launch Instance',
  CheckInstanceRunning: 'Check Instance Running',
  CheckSsmAgent: 'Check SSM Agent',

  RunProvisioners: 'Run Provisioners',
  PauseBeforeProvisioner: 'Pause Before Provisioner',
  SendProvisionerCommand: 'Send Provisioner Command',
  CheckProvisionerCommand: 'Check Provisioner Command',
  ProvisionerCommandDone: 'Provisioner Command Done?',
  ProvisionerFinished: 'Provisioner Finished',

  UploadX509Certificate: 'Upload X509 Certificate',
  CheckX509Upload: 'Check X509 Upload',
  X509UploadDone: 'X509 Upload Done?',
  BundleVolume: 'Bundle Volume',
  CheckBundleVolume: 'Check Bundle Volume',
  BundleVolumeDone: 'Bundle Volume Done?',
  UploadBundle: 'Upload Bundle',
  CheckUploadBundle: 'Check Upload Bundle',
  UploadBundleDone: 'Upload Bundle Done?',

  ForceDeregisterChoice: 'Force Deregister?',
  ForceDeregister: 'Force Deregister',
  RegisterAmi: 'Register AMI',
  CheckAmiAvailable: 'Check AMI Available',
  AmiAvailable: 'AMI Available?',
  WaitForAmi: 'Wait For AMI',

  AmiTestChoice: 'Test AMI?',
  LaunchTestInstance: 'Launch Test Instance',
  CheckTestInstanceRunning: 'Check Test Instance Running',
  CheckTestSsmAgent: 'Check Test SSM Agent',
  SendTestCommand: 'Send Test Command',
  CheckTestCommand: 'Check Test Command',
  TerminateTestInstance: 'Terminate Test Instance',
  AmiTestFailedChoice: 'Deregister Failed AMI?',
  DeregisterFailedAmi: 'Deregister Failed AMI',
  KeepFailedAmi: 'Keep Failed AMI',

  CopyAndFinish: 'Copy And Finish',
  FinishAmi: 'Finish AMI',
  CopyToRegions: 'Copy To Regions',
  CopyAmi: 'Copy AMI',
  CheckAmiCopy: 'Check AMI Copy',
  AmiCopyAvailable: 'AMI Copy Available?',
  WaitForAmiCopy: 'Wait For AMI Copy',
  FinishAmiCopy: 'Finish AMI Copy',

  PublishAmiIdsChoice: 'Publish AMI IDs?',
  PublishAmiIds: 'Publish AMI IDs',
  TerminateInstance: 'Terminate Instance',
  InstanceTerminationRequested: 'Instance Termination Requested?',
  CheckInstanceTerminated: 'Check Instance Terminated',
  DeleteTemporaryResources: 'Delete Temporary Resources',
  FinishCleanup: 'Finish Cleanup',
  ApplyRetentionChoice: 'Apply Retention?',
  ApplyRetention: 'Apply Retention',
  ReportBuild: 'Report Build',

  RunErrorCleanupProvisionerChoice: 'Run Error Cleanup Provisioner?',
  SendErrorCleanupCommand: 'Send Error Cleanup Command',
  CheckErrorCleanupCommand: 'Check Error Cleanup Command',
  ErrorCleanupCommandDone: 'Error Cleanup Command Done?',
  InstanceLaunched: 'Instance Launched?',
  CleanUpAfterFailure: 'Clean Up After Failure',
  InstanceTerminating: 'Instance Terminating?',
  CheckInstanceTerminatedAfterFailure: 'Check Instance Terminated After Failure',
  DeleteTemporaryResourcesAfterFailure: 'Delete Temporary Resources After Failure',
  FinishCleanupAfterFailure: 'Finish Cleanup After Failure',
  RollBackAmiIdsChoice: 'Roll Back AMI IDs?',
  RollBackAmiIds: 'Roll Back AMI IDs',
  ReportFailedBuild: 'Report Failed Build',

  SummarizeBuilds: 'Summarize Builds',
  NotifyBuildResult: 'Notify Build Result',
  AllBuildsSucceeded: 'All Builds Succeeded?',
  BuildSucceeded: 'Build Succeeded',
  BuildFailed: 'Build Failed',
} as const;

export type StateKey = keyof typeof StateNames;
export type StateName = (typeof StateNames)[StateKey];

/** What each state does, for docs/STATE-MACHINE.md (generated) and the state's `Comment`. */
export const StateDescriptions: Record<StateKey, string> = {
  ValidateTemplate:
    'Parses the Packer template and its variables, selects the amazon-instance builders (only/except) and lists every problem at once. Its result replaces the state.',
  TemplateInvalid:
    'Ends the execution with TemplateValidationError and the list of problems. Nothing was created.',
  ResumeRequestedChoice:
    'Goes to Prepare Resume when the input resumes a failed execution (resume); otherwise straight to the builds.',
  PrepareResume:
    'Reads the failed execution’s history and checks that each selected build can resume it (it failed with on_error abort after provisioning started, what it kept is still there and still its own, no earlier step changed); gives each build the failed build’s names and kept resources. A refusal lists every reason (Template Invalid); nothing is created.',
  BuildEachBuilder:
    'Runs every selected builder as its own build, all in parallel. A failed build ends in Report Failed Build, so the others finish and clean up.',
  ResumeBuildChoice:
    'Starts a resumed build (input resume: a failed execution) at Adopt Kept Resources; any other build at Prevalidate.',
  AdoptKeptResources:
    'Makes the failed build’s kept instance, security group and temporary role this execution’s (tags, with ami-builder:resumed-from), points the role at this execution’s staged folder, and restores the state the skipped steps had produced.',
  ResumeAtChoice:
    'Enters a resumed build at its failed step (X.509 upload, bundle, upload or registration); otherwise runs the provisioners.',
  ProvisionerDoneBefore:
    'In a resumed build, skips the provisioners before the one that failed (they ran in the failed execution).',
  ProvisionerSkipped: 'Ends a skipped provisioner’s iteration.',
  Prevalidate:
    'Checks the regions, that ami_name is unused (unless force_deregister or skip_if_unchanged), resolves the source AMI and checks that the instance type can launch it.',
  SkipIfUnchangedChoice: 'Runs Check Unchanged only when the template sets skip_if_unchanged.',
  CheckUnchanged:
    'Fingerprints the build (normalized config, resolved source AMI, the content of every S3 script, file and folder, the rendered bundle commands; timestamps in names excepted) and looks for an available AMI of this stack with that fingerprint in every target region; with none, checks that ami_name is unused (unless force_deregister).',
  UnchangedChoice:
    'When nothing changed, launches nothing: publishes (ami_id_parameter) and reports the existing AMI with status unchanged; otherwise builds.',
  EnsureBundleBucket:
    'Creates the bundle bucket (s3_bucket) in the build region if it is missing; fails if it is in another region or not ours.',
  CreateSecurityGroup:
    'Resolves VPC, subnet and security groups; creates a temporary group without any ingress rule unless groups are given.',
  CreateInstanceRole:
    'Creates the build’s temporary instance role and profile under the stack’s path and permissions boundary: its own staged folder, its own bundle keys, the command log group, the SSM agent (plus temporary_iam_instance_profile_policy_document). Checks a named iam_instance_profile instead.',
  LaunchInstance:
    'RunInstances with an idempotency token from the execution, the instance profile (retried while IAM propagates a new one), user data, block devices, metadata options and run_tags plus ownership tags.',
  CheckInstanceRunning:
    'Describes the instance, again on the poll schedule until it runs; fails if it stops or terminates instead.',
  CheckSsmAgent:
    'Asks SSM whether the instance’s agent is Online, again on the poll schedule; bounded by ssh_timeout, with the usual causes in the error.',
  RunProvisioners: 'Runs the provisioners one at a time, in template order.',
  PauseBeforeProvisioner: 'Waits the provisioner’s pause_before (0 when unset).',
  SendProvisionerCommand:
    'Stages the provisioner’s script and files in S3 and sends the stack’s command document to the instance.',
  CheckProvisionerCommand:
    'Reads the command’s status; a failure names the provisioner, the exit code and the output’s tail.',
  ProvisionerCommandDone:
    'Goes on when the command succeeded; sends it again when it failed and max_retries allows.',
  ProvisionerFinished:
    'Ends the provisioner’s iteration with only the command’s summary, keeping the Map small.',
  UploadX509Certificate:
    'Has the instance fetch the X.509 certificate and key with its own role into x509_upload_path (mode 0600).',
  CheckX509Upload: 'Reads the X.509 command’s status.',
  X509UploadDone: 'Goes on when the X.509 files are in place.',
  BundleVolume: 'Runs the rendered bundle_vol_command (ec2-bundle-vol) on the instance.',
  CheckBundleVolume: 'Reads the bundle command’s status; exit 127 gives the AMI tools hint.',
  BundleVolumeDone: 'Goes on when the volume is bundled.',
  UploadBundle:
    'Runs the rendered bundle_upload_command (ec2-upload-bundle) with the instance profile’s credentials from IMDSv2.',
  CheckUploadBundle: 'Reads the upload command’s status; exit 3 gives the bucket-ownership hint.',
  UploadBundleDone: 'Goes on when the bundle is uploaded.',
  ForceDeregisterChoice: 'Runs Force Deregister only when force_deregister is set.',
  ForceDeregister:
    'Deregisters AMIs named ami_name in the build region and every ami_regions region (and deletes their bundles with force_delete_snapshot).',
  RegisterAmi:
    'RegisterImage from the uploaded manifest with the architecture, virtualization type, block devices and ENA/SR-IOV/TPM settings; finds its own earlier registration on a retry.',
  CheckAmiAvailable: 'Describes the new AMI; state failed ends the build with the image’s state reason.',
  AmiAvailable: 'Goes on when the AMI is available; otherwise (aws_polling set) waits.',
  WaitForAmi:
    'Waits aws_polling.delay_seconds before the next AMI check (only when the template sets aws_polling).',
  AmiTestChoice:
    'Tests the new AMI (ami_test) before any copy, share, publish or success notification; goes straight on without ami_test.',
  LaunchTestInstance:
    'Launches one instance from the new AMI (only this build’s image) with ami_test.instance_type, the build’s subnet, security groups and instance profile, tagged like the build’s resources plus ami-builder:role=test.',
  CheckTestInstanceRunning:
    'Describes the test instance; fails if it stops or terminates instead of running.',
  CheckTestSsmAgent:
    'Asks SSM whether the test instance’s agent is Online; bounded by ssh_timeout (an image that does not boot or lost its agent fails here).',
  SendTestCommand:
    'Stages the ami_test commands like a shell provisioner’s and sends the stack’s command document to the test instance (output in the command log group).',
  CheckTestCommand:
    'Reads the test command’s status; a failure or timeout is AmiTestFailedError with the exit code and the output’s tail.',
  TerminateTestInstance:
    'Terminates the test instance once the test passed, then the build goes on to Copy And Finish. (After any failure, Clean Up After Failure terminates it.)',
  AmiTestFailedChoice:
    'After a failed test (or any error while testing): Keep Failed AMI when ami_test.on_failure is keep, otherwise Deregister Failed AMI; then the failure path.',
  DeregisterFailedAmi:
    'Deregisters the new AMI and deletes its bundle (manifest and parts): nothing is copied, shared or published.',
  KeepFailedAmi:
    'Tags the new AMI ami-builder:ami-test=failed (Sweep Orphans leaves it) and reports it as kept; nothing is copied, shared or published.',
  CopyAndFinish: 'Finishes the AMI in the build region while copying it to the ami_regions regions.',
  FinishAmi:
    'Sets deprecation, deregistration protection, description, launch permissions, product codes, IMDS support and tags on the AMI.',
  CopyToRegions: 'Copies the AMI to every ami_regions region in parallel.',
  CopyAmi: 'CopyImage to the region with an idempotency token, copying tags.',
  CheckAmiCopy: 'Describes the copy in its region; a failed copy names the region.',
  AmiCopyAvailable: 'Goes on when the copy is available; otherwise (aws_polling set) waits.',
  WaitForAmiCopy:
    'Waits aws_polling.delay_seconds before the next copy check (only when the template sets aws_polling).',
  FinishAmiCopy: 'Finishes the copy like Finish AMI, in its region.',
  PublishAmiIdsChoice: 'Publishes the AMI ids only when the template sets ami_id_parameter.',
  PublishAmiIds:
    'Writes each region’s AMI id to the ami_id_parameter SSM parameter in that region (data type aws:ec2:image).',
  TerminateInstance:
    'Terminates the build instance; a refused termination is reported as left behind, and the rest of the cleanup goes on.',
  InstanceTerminationRequested:
    'Waits for the termination only when the instance was terminated; otherwise goes straight to the other deletions.',
  CheckInstanceTerminated: 'Describes the instance until it is terminated.',
  DeleteTemporaryResources:
    'Deletes the temporary security group (retrying while it is in use), the temporary instance role and profile, and the build’s staged files; a refused deletion is reported as left behind.',
  FinishCleanup:
    'When Delete Temporary Resources failed past its retries: deletes what is left without waiting and reports the security group still in use as left behind. The build stays succeeded.',
  ApplyRetentionChoice:
    'Applies the family’s retention only when the build has a policy (ami_retention, or the stack’s retention default).',
  ApplyRetention:
    'Deprecates, then deregisters in every region, the family’s images beyond the retention policy and deletes their bundles; never the newest build, another stack’s image, a published parameter’s image or one a running instance or launch template uses. Its own failure is reported with the build, which stays succeeded.',
  ReportBuild:
    'Produces the build’s entry of the output: artifacts per region, artifact id, manifest, timings.',
  RunErrorCleanupProvisionerChoice:
    'Runs the error-cleanup-provisioner when the template has one, the agent was online and on_error is cleanup.',
  SendErrorCleanupCommand: 'Sends the error-cleanup-provisioner as a command.',
  CheckErrorCleanupCommand: 'Reads the error-cleanup command’s status.',
  ErrorCleanupCommandDone:
    'Goes on when the error-cleanup command ended; sends it again when max_retries allows.',
  InstanceLaunched: 'Terminates the instance only if one was launched.',
  CleanUpAfterFailure:
    'Terminates the instance after a failure, or keeps it (on_error: abort) and records where it is.',
  InstanceTerminating: 'Waits for the termination only when an instance was terminated.',
  CheckInstanceTerminatedAfterFailure: 'Describes the instance until it is terminated.',
  DeleteTemporaryResourcesAfterFailure:
    'Deletes the temporary security group, instance role and profile, and staged files, or keeps the group and role with the instance (on_error: abort).',
  FinishCleanupAfterFailure:
    'When Delete Temporary Resources After Failure failed past its retries: deletes what is left without waiting and reports the security group still in use as left behind.',
  RollBackAmiIdsChoice: 'Rolls back the AMI ids only when the template sets ami_id_parameter.',
  RollBackAmiIds:
    'Puts each region’s ami_id_parameter back to its value before this build (or deletes it if the build created it), only where it still holds this build’s AMI id; what cannot be rolled back is reported as left behind.',
  ReportFailedBuild:
    'Produces the failed build’s entry of the output: the error, its cause, what was cleaned up and what was left behind.',
  SummarizeBuilds:
    'Collects every build’s entry, the warnings and the skipped builders into the execution output.',
  NotifyBuildResult:
    'Puts an "AMI Build Succeeded" or "AMI Build Failed" event on EventBridge (and a summary on the SNS topic when configured); its own failure does not change the result.',
  AllBuildsSucceeded: 'Ends in Build Succeeded when no build failed, otherwise in Build Failed.',
  BuildSucceeded: 'The execution succeeded; its output lists the AMIs of every build.',
  BuildFailed: 'The execution failed; error and cause name the failed builds and what to do.',
};
