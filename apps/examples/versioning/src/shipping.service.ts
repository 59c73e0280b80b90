import { Injectable } from '@nestjs/common';
import { Step } from '@kagzi/nestjs';

@Injectable()
export class ShippingService {
  @Step()
  async screenForFraud(_orderId: string): Promise<'clear'> {
    return 'clear';
  }

  @Step()
  async reserve(orderId: string): Promise<string> {
    return `res-${orderId}`;
  }

  @Step()
  async ship(reservation: string): Promise<string> {
    return `trk-${reservation}`;
  }
}
