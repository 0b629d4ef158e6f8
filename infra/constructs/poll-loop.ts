import {
  Chain,
  Choice,
  Condition,
  type IChainable,
  type INextable,
  type State,
  StateMachineFragment,
  Wait,
  WaitTime,
} from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';

export interface PollLoopProps {
  /**
   * The Check task. Its own Retry on PollPendingError checks again while the target is not ready
   * (lambdas/shared/poll.ts); it stores its `PollResult` at `$.poll.<waitKey>` (`{ done, attempt, waitSeconds,
   * retry? }`) when it ends the wait, and throws its own named error when its bound is reached.
   */
  readonly check: State & INextable;
  /** The key under `$.poll` (docs/ARCHITECTURE.md, "Poll loops"). */
  readonly waitKey: string;
  /**
   * Name of the Choice state, for a wait whose check can return something other than done: a command retry
   * (`retry`), or a fixed `waitSeconds` (`waitName`).
   * @default - no Choice: the Check goes straight on
   */
  readonly choiceName?: string;
  /**
   * Name of the Wait state, for a check that may return `{ done: false, waitSeconds }` (the AMI waits of a template
   * that sets `aws_polling`: Packer's fixed delay). Requires `choiceName`.
   * @default - no Wait state
   */
  readonly waitName?: string;
  /** Comments of the Choice and Wait states, shown in the console. */
  readonly comments?: { choice?: string; wait?: string };
  /**
   * Where `$.poll.<waitKey>.retry == true` goes (a command whose `max_retries` allows another attempt: the Send
   * task). Requires `choiceName`.
   * @default - no retry branch
   */
  readonly retry?: IChainable;
}

/**
 * A wait of the workflow: the Check task, retried on PollPendingError by its own Retry, then, when the check can
 * return something other than done, a Choice that goes on when `$.poll.<waitKey>.done` is true, back to `retry`
 * when `$.poll.<waitKey>.retry` is true, and otherwise (with a Wait state) waits `$.poll.<waitKey>.waitSeconds`
 * (SecondsPath) and checks again.
 *
 * Chain it like a state: `poll.next(nextState)` makes `nextState` the "done" branch.
 */
export class PollLoop extends StateMachineFragment {
  readonly startState: State;
  readonly endStates: INextable[];
  readonly choice?: Choice;
  readonly wait?: Wait;

  constructor(scope: Construct, id: string, props: PollLoopProps) {
    super(scope, id);
    this.startState = props.check;
    if (props.choiceName === undefined) {
      if (props.waitName !== undefined || props.retry !== undefined) {
        throw new Error(`${id}: a Wait state or a retry branch needs a Choice (choiceName)`);
      }
      this.endStates = [props.check];
      return;
    }
    const key = `$.poll.${props.waitKey}`;
    const choice = new Choice(this, props.choiceName, { comment: props.comments?.choice });
    this.choice = choice;
    props.check.next(choice);
    let wait: Wait | undefined;
    if (props.waitName !== undefined) {
      wait = new Wait(this, props.waitName, {
        time: WaitTime.secondsPath(`${key}.waitSeconds`),
        comment: props.comments?.wait,
      });
      wait.next(props.check);
      this.wait = wait;
    }
    // The Choice's branches are added when the loop is chained, so that "done" is tested first and goes to the
    // state that follows the loop. Without a Wait state nothing else is expected: no Default, so a result that is
    // neither done nor a retry fails the execution (States.NoChoiceMatched) rather than going on unnoticed.
    const done: INextable = {
      next(next: IChainable): Chain {
        choice.when(Condition.booleanEquals(`${key}.done`, true), next);
        if (props.retry !== undefined) {
          choice.when(
            Condition.and(Condition.isPresent(`${key}.retry`), Condition.booleanEquals(`${key}.retry`, true)),
            props.retry,
          );
        }
        if (wait !== undefined) choice.otherwise(wait);
        return Chain.start(next);
      },
    };
    this.endStates = [done];
  }
}
