/**
 * State stays small: a template with 20 provisioners and 10 copy regions runs through the synthesized state
 * machine, and no state's input or output comes near Step Functions' 256 KB limit.
 */
import { describe, expect, it } from 'vitest';
import { basicExample, useWorkflowHarness } from './harness.js';

const harness = useWorkflowHarness();

const COPY_REGIONS = [
  'us-east-2',
  'us-west-1',
  'us-west-2',
  'eu-west-1',
  'eu-west-2',
  'eu-west-3',
  'eu-central-1',
  'ap-southeast-1',
  'ap-southeast-2',
  'ap-northeast-1',
];
/** A quarter of the limit: "far below 256 KB", with room for longer inline scripts than these. */
const STATE_SIZE_BUDGET_BYTES = 65_536;

describe('state size', () => {
  it('keeps every state input and output far below 256 KB with 20 provisioners and 10 regions', async () => {
    // Prepare
    const h = harness();
    const provisioners = Array.from({ length: 20 }, (_, i) => ({
      type: 'shell',
      inline: [`echo "provisioner ${i}: $STEP"`, 'uname -a', 'df -h /'],
      environment_vars: [`STEP=${i}`, `LABEL=step number ${i}`],
    }));
    const input = {
      builders: [
        { ...basicExample(h.x509), ami_name: 'state-size {{timestamp}}', ami_regions: COPY_REGIONS },
      ],
      provisioners,
    };

    // Act
    const result = await h.run(input, { label: 'size' });

    // Assess
    expect(result.status).toBe('SUCCEEDED');
    expect(Object.keys(result.output?.builds[0]?.artifacts ?? {})).toHaveLength(11);
    const sizes = result.events.flatMap((e) =>
      [e.state?.input, e.state?.output].map((v) => Buffer.byteLength(JSON.stringify(v ?? null), 'utf8')),
    );
    const largest = Math.max(...sizes);
    console.info(`20 provisioners, 10 regions: largest state input/output ${largest} bytes`);
    expect(largest).toBeLessThan(STATE_SIZE_BUDGET_BYTES);
    expect(Buffer.byteLength(JSON.stringify(result.output), 'utf8')).toBeLessThan(STATE_SIZE_BUDGET_BYTES);
  });
});
