import { KagziInit1764100000001 } from './1764100000001-kagzi-init';

/** Every Kagzi migration, oldest first. Append new ones; never edit one that has shipped. */
export const KAGZI_MIGRATIONS = [KagziInit1764100000001];
