import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SNSClient } from '@aws-sdk/client-sns';
import { createClients, lambdaHandler, readEnvironment, systemClock } from '../shared/runtime.js';
import { notify, parseNotifyPayload } from './notify.js';

const deps = {
  clients: createClients({ events: EventBridgeClient, sns: SNSClient }),
  env: readEnvironment(),
  clock: systemClock,
  region: process.env.AWS_REGION ?? 'us-east-1',
};

/**
 * State "Notify": `{ summary, execution, templateName? }` → `{ detailType, eventId, messageId? }`. Puts the
 * build's EventBridge event and publishes the readable summary to the notification topic, if any.
 */
export const handler = lambdaHandler((event: unknown) => notify(parseNotifyPayload(event), deps));
