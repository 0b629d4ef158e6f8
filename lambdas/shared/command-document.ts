/**
 * The stack's SSM command document. Step 1 downloads a staged S3 folder with the instance's own role
 * (`aws:downloadContent`): no credentials and no presigned URL travel in the command's parameters. Step 2 runs
 * the folder's `run.sh`. SendCommand passes only the folder URL, the working directory and the timeout.
 */
export const COMMAND_STEP_DOWNLOAD = 'downloadFiles';
export const COMMAND_STEP_RUN = 'runScript';

export const commandDocumentContent = {
  schemaVersion: '2.2',
  description:
    'ami-builder: download a staged command folder from S3 with the instance role, then run its run.sh as root.',
  parameters: {
    sourceInfo: {
      type: 'StringMap',
      description:
        'S3 folder to download, as {"path": "https://s3.<region>.amazonaws.com/<bucket>/<prefix>/"}.',
    },
    workingDirectory: {
      type: 'String',
      description: 'Absolute directory on the instance to download into and run from.',
      allowedPattern: '^/[A-Za-z0-9_./-]+$',
    },
    executionTimeout: {
      type: 'String',
      description: 'Seconds the script may run (at most 172800).',
      default: '7200',
      allowedPattern: '^[0-9]{1,6}$',
    },
  },
  mainSteps: [
    {
      action: 'aws:downloadContent',
      name: COMMAND_STEP_DOWNLOAD,
      inputs: {
        sourceType: 'S3',
        sourceInfo: '{{ sourceInfo }}',
        destinationPath: '{{ workingDirectory }}',
      },
    },
    {
      action: 'aws:runShellScript',
      name: COMMAND_STEP_RUN,
      inputs: {
        workingDirectory: '{{ workingDirectory }}',
        timeoutSeconds: '{{ executionTimeout }}',
        runCommand: ['umask 077', 'exec /bin/bash ./run.sh'],
      },
    },
  ],
} as const;
