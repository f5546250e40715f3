/** Loads every gradient rule family so the registry is complete. */
import './elementwise.js';
import './conv.js';
import './matmul.js';
import './pool.js';
import './norm.js';
import './shape.js';
