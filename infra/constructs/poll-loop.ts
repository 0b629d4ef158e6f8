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
   * The Check task. It must store its `PollResult` at `$.poll.<waitKey>`
   * (`{ done, attempt, waitSeconds, retry? }`) and throw its own named error when its attempt bound is reached:
   * the loop itself has no bound.
   */
  readonly check: State & INextable;
  /** The key under `$.poll` (docs/ARCHITECTURE.md, "Poll loops"). */
  readonly waitKey: string;
  /** Name of the Choice state. */
  readonly choiceName: string;
  /** Name of the Wait state. */
  readonly waitName: string;
  /** Comments of the Choice and Wait states, shown in the console. */
  readonly comments?: { choice?: string; wait?: string };
  /**
   * Where `$.poll.<waitKey>.retry == true` goes (a command whose `max_retries` allows another attempt: the Send
   * task).
   * @default - no retry branch
   */
  readonly retry?: IChainable;
}

/**
 * Check → Choice → Wait → Check, the one waiting pattern of the workflow. The Choice goes on when
 * `$.poll.<waitKey>.done` is true, back to `retry` when `$.poll.<waitKey>.retry` is true, and otherwise waits
 * `$.poll.<waitKey>.waitSeconds` (SecondsPath) and checks again.
 *
 * Chain it like a state: `poll.next(nextState)` makes `nextState` the "done" branch.
 */
export class PollLoop extends StateMachineFragment {
  readonly startState: State;
  readonly endStates: INextable[];
  readonly choice: Choice;
  readonly wait: Wait;

  constructor(scope: Construct, id: string, props: PollLoopProps) {
    super(scope, id);
    const key = `$.poll.${props.waitKey}`;
    this.wait = new Wait(this, props.waitName, {
      time: WaitTime.secondsPath(`${key}.waitSeconds`),
      comment: props.comments?.wait,
    });
    this.choice = new Choice(this, props.choiceName, { comment: props.comments?.choice });
    props.check.next(this.choice);
    this.wait.next(props.check);
    this.startState = props.check;

    const { choice, wait } = this;
    // The Choice's branches are added when the loop is chained, so that "done" is tested first and goes to the
    // state that follows the loop.
    const done: INextable = {
      next(next: IChainable): Chain {
        choice.when(Condition.booleanEquals(`${key}.done`, true), next);
        if (props.retry !== undefined) {
          choice.when(
            Condition.and(Condition.isPresent(`${key}.retry`), Condition.booleanEquals(`${key}.retry`, true)),
            props.retry,
          );
        }
        choice.otherwise(wait);
        return Chain.start(next);
      },
    };
    this.endStates = [done];
  }
}
