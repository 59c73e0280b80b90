import { Module } from '@nestjs/common';
import { DigestService } from './digest.service';
import { NightlyDigestWorkflow } from './nightly-digest.workflow';

@Module({ providers: [DigestService, NightlyDigestWorkflow] })
export class ScheduleModule {}
