#!/usr/bin/env python3
"""Best case for the purity of the `track` + `correlate` chain on a closely spaced pair.

A tracker that knew the true positions of two objects A and B would still have to assign
each scan's detections of the pair by maximum likelihood (least total squared Mahalanobis
distance in range/azimuth/elevation, with the sensor's sigmas). This script does exactly that,
prints on stderr the share of the pair's detections that go to the wrong object, and writes
to stdout the scenario's truth-aided `reports.csv` relabelled with what such a tracker's
labels would be (`trackcorr track` labels a report with the majority of the truth of its
last 5 detections). Correlating those reports gives the purity no detection-origin label can
beat with perfect states.

    trackcorr generate --seed 3 --out s3
    python3 bench/analysis/oracle_purity.py s3 0 1 > s3/oracle_reports.csv
    trackcorr correlate --reports s3/oracle_reports.csv --sensors s3/sensors.csv \
        --truth s3/truth.csv --backend cpu --out s3/oracle

Replay 0 only; plain Python 3, no packages.
"""
import csv,math,collections,bisect,sys
d=sys.argv[1]; A,B=int(sys.argv[2]),int(sys.argv[3])
a=6378137.0;f=1/298.257223563;e2=f*(2-f)
S={}
for r in csv.DictReader(open(d+'/sensors.csv')):
    la,lo,h=math.radians(float(r['lat_deg'])),math.radians(float(r['lon_deg'])),float(r['alt_m'])
    N=a/math.sqrt(1-e2*math.sin(la)**2)
    site=((N+h)*math.cos(la)*math.cos(lo),(N+h)*math.cos(la)*math.sin(lo),(N*(1-e2)+h)*math.sin(la))
    E=(-math.sin(lo),math.cos(lo),0);Nn=(-math.sin(la)*math.cos(lo),-math.sin(la)*math.sin(lo),math.cos(la));U=(math.cos(la)*math.cos(lo),math.cos(la)*math.sin(lo),math.sin(la))
    S[r['sensor']]=(site,(E,Nn,U),[float(r['sigma_range_m']),math.radians(float(r['sigma_az_deg'])),math.radians(float(r['sigma_el_deg']))])
T=collections.defaultdict(list)
for r in csv.DictReader(open(d+'/truth.csv')):
    if r['replay']=='0': T[int(r['object'])].append((float(r['time']),[float(r[k]) for k in 'x y z'.split()]))
def at(o,t):
    v=T[o]; ts=[x for x,_ in v]; i=bisect.bisect_left(ts,t)
    if i==0 or i>=len(v): return None
    (t0,p0),(t1,p1)=v[i-1],v[i]; w=(t-t0)/(t1-t0)
    return [p0[k]+w*(p1[k]-p0[k]) for k in range(3)]
def rae(s,p):
    site,(E,Nn,U),_=S[s]; v=[p[i]-site[i] for i in range(3)]
    e=sum(v[i]*E[i] for i in range(3)); n=sum(v[i]*Nn[i] for i in range(3)); u=sum(v[i]*U[i] for i in range(3))
    return math.sqrt(e*e+n*n+u*u), math.atan2(e,n)%(2*math.pi), math.atan2(u,math.hypot(e,n))
def d2(s,z,m):
    sg=S[s][2]; daz=(z[1]-m[1]+math.pi)%(2*math.pi)-math.pi
    return ((z[0]-m[0])/sg[0])**2+(daz/sg[1])**2+((z[2]-m[2])/sg[2])**2
scans=collections.defaultdict(list)
for r in csv.DictReader(open(d+'/detections.csv')):
    if r['replay']=='0' and r['truth'] in (str(A),str(B)):
        scans[(r['sensor'],float(r['time']))].append((int(r['truth']),[float(r['range']),float(r['azimuth']),float(r['elevation'])]))
labels=collections.defaultdict(list)  # (sensor,obj) -> [(t,label)]
wrong=tot=0
for (s,t),dets in sorted(scans.items()):
    pa,pb=at(A,t),at(B,t)
    if pa is None or pb is None: continue
    ma,mb=rae(s,pa),rae(s,pb)
    if len(dets)==2:
        (l1,z1),(l2,z2)=dets
        if d2(s,z1,ma)+d2(s,z2,mb)<=d2(s,z1,mb)+d2(s,z2,ma): asg=[(A,l1),(B,l2)]
        else: asg=[(A,l2),(B,l1)]
    else:
        l,z=dets[0]; asg=[(A if d2(s,z,ma)<=d2(s,z,mb) else B,l)]
    for o,l in asg:
        labels[(s,o)].append((t,l)); tot+=1; wrong+=(o!=l)
print('detections of the pair',tot,'assigned to the other object',wrong,round(wrong/tot,3),file=sys.stderr)
def maj(ls):
    best=None
    for k in range(len(ls)-1,-1,-1):
        n=ls.count(ls[k])
        if best is None or n>best[0]: best=(n,ls[k])
    return best[1]
out=csv.writer(sys.stdout); rd=csv.reader(open(d+'/reports.csv')); h=next(rd); out.writerow(h)
ti,si,li=h.index('time'),h.index('sensor'),h.index('truth')
for r in rd:
    if r[0]=='0' and r[li] in (str(A),str(B)):
        seq=labels.get((r[si],int(r[li])),[]); t=float(r[ti])
        hist=[l for (tt,l) in seq if tt<=t+1e-9][-5:]
        if hist: r[li]=str(maj(hist))
    out.writerow(r)
