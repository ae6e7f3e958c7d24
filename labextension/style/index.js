import './base.css';
import './inline.css';
