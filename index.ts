// Entry point of the Pulumi program; see program.ts for the wiring.
import { main } from "./program";

export = main;
