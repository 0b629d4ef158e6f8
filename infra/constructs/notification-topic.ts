import { RemovalPolicy } from 'aws-cdk-lib';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

export interface NotificationTopicProps {
  /** Addresses subscribed by email (each must confirm its subscription). */
  readonly emails: string[];
}

/**
 * The topic people subscribe to: readable build summaries (the Notify task) and the stack's alarms. Defaults, all
 * here:
 * - encrypted with its own KMS key (rotation on), because CloudWatch alarms cannot publish to a topic encrypted
 *   with the AWS-managed `aws/sns` key; the key lets CloudWatch encrypt;
 * - TLS-only topic policy;
 * - one email subscription per configured address.
 */
export class NotificationTopic extends Construct {
  readonly topic: Topic;
  readonly key: Key;
  /** The alarm action that publishes to the topic. */
  readonly alarmAction: SnsAction;

  constructor(scope: Construct, id: string, props: NotificationTopicProps) {
    super(scope, id);
    this.key = new Key(this, 'Key', {
      enableKeyRotation: true,
      description: 'ami-builder notification topic',
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.key.grant(new ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey');
    this.topic = new Topic(this, 'Resource', {
      displayName: 'ami-builder',
      masterKey: this.key,
      enforceSSL: true,
    });
    for (const email of props.emails) this.topic.addSubscription(new EmailSubscription(email));
    this.alarmAction = new SnsAction(this.topic);
  }
}
