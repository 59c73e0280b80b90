import { Injectable } from '@nestjs/common';
import { ErrorKind, PermanentError, Step } from '@kagzi/nestjs';

/** Bookings with an undo for each; `ledger` records every call so the example and its test can see the saga. */
@Injectable()
export class TravelService {
  readonly ledger: string[] = [];

  @Step()
  async reserveFlight(tripId: string): Promise<string> {
    this.ledger.push(`reserve flight ${tripId}`);
    return `FL-${tripId}`;
  }

  @Step()
  async cancelFlight(reservation: string): Promise<void> {
    this.ledger.push(`cancel flight ${reservation}`);
  }

  @Step()
  async reserveHotel(tripId: string): Promise<string> {
    this.ledger.push(`reserve hotel ${tripId}`);
    return `HT-${tripId}`;
  }

  @Step()
  async cancelHotel(reservation: string): Promise<void> {
    this.ledger.push(`cancel hotel ${reservation}`);
  }

  @Step()
  async charge(tripId: string, cents: number): Promise<string> {
    if (cents > 500_000) throw new PermanentError('over the card limit', { kind: ErrorKind.BusinessLogicError, code: 'CARD_LIMIT', context: { tripId } });
    this.ledger.push(`charge ${tripId} ${cents}`);
    return `pay-${tripId}`;
  }

  @Step()
  async refund(paymentId: string): Promise<void> {
    this.ledger.push(`refund ${paymentId}`);
  }

  @Step()
  async issueTickets(tripId: string): Promise<string> {
    this.ledger.push(`issue tickets ${tripId}`);
    return `TKT-${tripId}`;
  }
}
