import { Workflow, WorkflowContext } from '@kagzi/nestjs';
import { BookingService, NotificationService, Quote, QuoteService } from './trip.services';

export interface TripResult {
  flight: string;
  hotel: string;
  /** The first taxi quote to arrive: the race's recorded winner. */
  taxi: Quote;
  /** The insurer's quote, or null when it did not answer within 30 s. */
  insurance: Quote | null;
  notified: string[];
  failedChannels: string[];
}

const CHANNELS = ['email', 'sms', 'push'];

@Workflow({ name: 'example-trip' })
export class TripWorkflow {
  constructor(
    private readonly bookings: BookingService,
    private readonly quotes: QuoteService,
    private readonly notifications: NotificationService,
  ) {}

  async run(input: { tripId: string }, ctx: WorkflowContext): Promise<TripResult> {
    // fail-fast (the default): both at once, the first failure aborts the other
    const [flight, hotel] = await ctx.parallel([() => this.bookings.bookFlight(input.tripId), () => this.bookings.bookHotel(input.tripId)]);

    // the first answer wins; the winner is recorded, so every replay takes the same one, and the loser is aborted
    const taxi = await ctx.race([() => this.quotes.quote('taxi-a', input.tripId), () => this.quotes.quote('taxi-b', input.tripId)]);

    // a deadline: the insurer's quote, or nothing after a durable 30 s sleep
    const insurance = await ctx.race([
      () => this.quotes.quote('insurer', input.tripId),
      async () => {
        await ctx.sleep('30s');
        return null;
      },
    ]);

    // collect-all: every channel is tried, and a failure is a value, not an exception
    const sent = await ctx.parallel(CHANNELS.map((channel) => () => this.notifications.send(channel, input.tripId)), { strategy: 'collect-all' });
    return {
      flight,
      hotel,
      taxi: taxi.value,
      insurance: insurance.value,
      notified: sent.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : [])),
      failedChannels: CHANNELS.filter((_, i) => sent[i].status === 'rejected'),
    };
  }
}
