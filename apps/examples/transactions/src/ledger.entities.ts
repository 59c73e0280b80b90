import { Column, Entity, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

@Entity({ name: 'example_accounts' })
export class Account {
  @PrimaryColumn('text')
  id!: string;

  @Column('integer')
  balance!: number;
}

/** One row per transfer: written by the transactional step, in the same transaction as the step's record. */
@Entity({ name: 'example_ledger_entries' })
export class LedgerEntry {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column('text', { name: 'transfer_id', unique: true })
  transferId!: string;

  @Column('text', { name: 'from_account' })
  from!: string;

  @Column('text', { name: 'to_account' })
  to!: string;

  @Column('integer')
  cents!: number;
}
