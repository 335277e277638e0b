import './base.css';
import './nbrun.css';
