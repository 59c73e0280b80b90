import { Workflow, WorkflowContext } from '@kagzi/nestjs';
import { TravelService } from './travel.service';

export interface TripInput {
  tripId: string;
  cents: number;
}

/**
 * A saga: each booking that succeeded pushes its undo; any failure, or a cancel (client.cancel arrives as a
 * WorkflowCancelledError at the pending await), runs the undos newest first, then rethrows.
 */
@Workflow({ name: 'example-trip-saga' })
export class TripSagaWorkflow {
  constructor(private readonly travel: TravelService) {}

  async run(input: TripInput, ctx: WorkflowContext): Promise<{ tripId: string; tickets: string }> {
    const undo: (() => Promise<void>)[] = [];
    try {
      const flight = await this.travel.reserveFlight(input.tripId);
      undo.push(() => this.travel.cancelFlight(flight));
      const hotel = await this.travel.reserveHotel(input.tripId);
      undo.push(() => this.travel.cancelHotel(hotel));
      const payment = await this.travel.charge(input.tripId, input.cents);
      undo.push(() => this.travel.refund(payment));

      await ctx.sleep('1d'); // the free-cancellation window: a cancel now is delivered here
      const tickets = await this.travel.issueTickets(input.tripId);
      return { tripId: input.tripId, tickets };
    } catch (err) {
      ctx.logger.warn(`trip ${input.tripId}: compensating ${undo.length} booking(s) after ${err instanceof Error ? err.name : 'an error'}`);
      // Inside nonCancellable the compensation steps run (and are recorded) even though the run was cancelled.
      await ctx.nonCancellable(async () => {
        for (const step of undo.reverse()) await step();
      });
      throw err; // the run ends CANCELLED after a cancel, FAILED after a failure
    }
  }
}
