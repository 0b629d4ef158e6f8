/**
 * Every Lambda task of the workflow: its construct id and the handler module. infra creates one function per
 * entry; the local runner maps a synthesized function back to the same module through its construct id.
 */
export const Tasks = {
  ValidateTemplate: 'lambdas/validate-template/handler.ts',
  PrepareResume: 'lambdas/prepare-resume/handler.ts',
  Prevalidate: 'lambdas/prevalidate/handler.ts',
  CheckUnchanged: 'lambdas/check-unchanged/handler.ts',
  EnsureBundleBucket: 'lambdas/ensure-bucket/handler.ts',
  CreateSecurityGroup: 'lambdas/create-security-group/handler.ts',
  CreateInstanceRole: 'lambdas/create-instance-role/handler.ts',
  LaunchInstance: 'lambdas/launch-instance/handler.ts',
  LaunchTestInstance: 'lambdas/launch-test-instance/handler.ts',
  CheckInstance: 'lambdas/check-instance/handler.ts',
  CheckAgent: 'lambdas/check-agent/handler.ts',
  SendCommand: 'lambdas/send-command/handler.ts',
  CheckCommand: 'lambdas/check-command/handler.ts',
  ForceDeregister: 'lambdas/force-deregister/handler.ts',
  RegisterImage: 'lambdas/register-image/handler.ts',
  CheckImage: 'lambdas/check-image/handler.ts',
  CopyImage: 'lambdas/copy-image/handler.ts',
  FinishImage: 'lambdas/finish-image/handler.ts',
  TerminateInstance: 'lambdas/terminate-instance/handler.ts',
  DeleteTemporaryResources: 'lambdas/delete-temporary-resources/handler.ts',
  ReportBuild: 'lambdas/report-build/handler.ts',
  SummarizeBuilds: 'lambdas/summarize-builds/handler.ts',
  AbortCleanup: 'lambdas/abort-cleanup/handler.ts',
  SweepOrphans: 'lambdas/sweep-orphans/handler.ts',
  Notify: 'lambdas/notify/handler.ts',
  PublishAmiIds: 'lambdas/publish-ami-ids/handler.ts',
  ApplyRetention: 'lambdas/apply-retention/handler.ts',
  AdoptKeptResources: 'lambdas/adopt-kept-resources/handler.ts',
} as const;

export type TaskId = keyof typeof Tasks;
