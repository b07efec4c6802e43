#!/usr/bin/env node
import { buildApp } from "../app.ts";

buildApp().app.synth();
