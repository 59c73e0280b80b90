import { MigrationInterface, QueryRunner } from 'typeorm';

/** The order app's own tables, in schema `demo` (Kagzi's live in `kagzi`), and a stocked catalogue. */
export class DemoOrders1764200000001 implements MigrationInterface {
  name = 'DemoOrders1764200000001';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE SCHEMA IF NOT EXISTS demo`);
    await queryRunner.query(`
      CREATE TABLE demo.orders (
        id              text PRIMARY KEY,
        customer_id     text NOT NULL,
        items           jsonb NOT NULL,
        amount_cents    integer NOT NULL,
        idempotency_key text UNIQUE,
        run_id          uuid NOT NULL,
        created_at      timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`CREATE TABLE demo.stock (sku text PRIMARY KEY, available integer NOT NULL CHECK (available >= 0))`);
    await queryRunner.query(`
      CREATE TABLE demo.reservations (
        reservation_id text PRIMARY KEY,
        order_id       text NOT NULL UNIQUE,
        items          jsonb NOT NULL
      )`);
    await queryRunner.query(`
      INSERT INTO demo.stock (sku, available)
      SELECT sku, 1000000 FROM unnest(ARRAY['MUG-01', 'TEE-M-BLK', 'HOODIE-L', 'CAP-02', 'STICKER-PACK', 'NOTEBOOK-A5', 'BOTTLE-750']) AS sku`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP SCHEMA demo CASCADE`);
  }
}
